// helpHint: which --help a usage error should point at, from the command words in argv. The table
// repeats the command names of commands/*.ts; a command missing here only gets the root --help.

/** Subcommands by command, to point a usage error at the right --help. */
const subcommands: Readonly<Record<string, readonly string[]>> = {
  status: [],
  locks: [],
  lock: ['get', 'release', 'run'],
  sessions: [],
  election: ['leader', 'observe', 'run'],
  watch: [],
  members: ['list', 'add', 'remove', 'transfer-leader'],
  snapshot: ['save'],
};

/** "raftlock lock run --help" for `raftlock lock run job sh -c …`: the command words in argv. */
export function helpHint(argv: readonly string[]): string {
  const words = argv.filter((word) => !word.startsWith('-'));
  const [command, subcommand] = words;
  if (command === undefined || !Object.hasOwn(subcommands, command)) return 'raftlock --help';
  if (subcommand !== undefined && subcommands[command]?.includes(subcommand)) return `raftlock ${command} ${subcommand} --help`;
  return `raftlock ${command} --help`;
}
