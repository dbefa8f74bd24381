// PeerFrameError: the one error a peer frame that fails to decode or validate turns into. It is an
// operating error (a corrupt or hostile peer), never a programmer error: the transport catches it,
// closes that connection with 1007 and keeps serving everyone else.

/** Stable code (STYLE §9): add codes, never rename them. */
export type PeerFrameErrorCode = 'PEER_FRAME_MALFORMED' | 'PEER_FRAME_INVALID';

export class PeerFrameError extends Error {
  override readonly name = 'PeerFrameError';

  constructor(
    readonly code: PeerFrameErrorCode,
    message: string,
  ) {
    super(message);
  }
}
