// Branded identifiers with the Raft paper's names. A Term and a LogIndex are both numbers on the wire;
// the brands keep them from being swapped by accident in the core (STYLE §8).

export type Term = number & { readonly __brand: 'Term' };
export type LogIndex = number & { readonly __brand: 'LogIndex' };
export type NodeId = string & { readonly __brand: 'NodeId' };

export const asTerm = (value: number): Term => value as Term;
export const asLogIndex = (value: number): LogIndex => value as LogIndex;
export const asNodeId = (value: string): NodeId => value as NodeId;

/** The id of nobody: no leader known, no vote cast. */
export const noNode = '' as NodeId;
