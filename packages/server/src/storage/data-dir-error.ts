// DataDirError: the one operating error of opening storage. A member must refuse a data dir that
// is not its own (SPEC §2: "Nothing under --data-dir is ever overwritten by a member that belongs
// elsewhere"), and the operator must learn which dir and why from one line. Invariant: the message
// is a single line that names the path; the stable code lets main.ts map it to a non-zero exit.

export class DataDirError extends Error {
  override readonly name = 'DataDirError';
  readonly code = 'DATA_DIR';

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
  }
}
