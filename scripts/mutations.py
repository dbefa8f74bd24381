#!/usr/bin/env python3
"""Safety-rule mutations of the Raft core, applied one at a time to a scratch copy of the repo.

Usage: scripts/mutations.py REPO_COPY [vitest path filters...]
Each mutation breaks one safety rule; the test suite must fail for every one of them. Prints, per
mutation, which test files failed. Never run it on your work tree: it edits files in place.
"""
import pathlib, subprocess, sys, re

MUTATIONS = {
    "count-old-term-entries-toward-commit": [
        ("packages/server/src/raft/raft-node.ts",
         "    if (this.log.term(candidate) !== this.currentTerm) return false;\n", ""),
    ],
    "grant-two-votes-in-one-term": [
        ("packages/server/src/raft/raft-node.ts",
         "(this.votedFor === noNode && this.leaderId === noNode && message.term === this.currentTerm)",
         "(this.leaderId === noNode && message.term === this.currentTerm)"),
        ("packages/server/src/raft/raft-node.ts",
         "      assert(this.votedFor === noNode || this.votedFor === message.from, 'at most one vote per term');\n", ""),
    ],
    "reply-to-RequestVote-before-the-vote-is-persisted": [
        # The vote is kept in memory but left out of the hard state handed to the driver, so the
        # response leaves while the vote is not on disk (and a restart forgets it).
        ("packages/server/src/raft/raft-node.ts",
         "    return { term: this.currentTerm, votedFor: this.votedFor, commitIndex: this.log.commitIndex };",
         "    return { term: this.currentTerm, votedFor: this.votedFor === this.nodeId ? this.votedFor : this.lastHardState.votedFor, commitIndex: this.log.commitIndex };"),
    ],
    "skip-candidate-log-up-to-date-check": [
        ("packages/server/src/raft/raft-node.ts",
         "    const upToDate = this.log.isUpToDate(message.lastLogIndex, message.lastLogTerm);",
         "    const upToDate = true;"),
    ],
    "truncate-follower-log-on-stale-AppendEntries": [
        ("packages/server/src/raft/raft-log.ts",
         "    if (conflictPosition === -1) return lastNewIndex;\n",
         "    if (conflictPosition === -1) { if (entries.length > 0) this.truncateAndAppend(entries); return lastNewIndex; }\n"),
    ],
    "count-learners-toward-commit": [
        ("packages/server/src/raft/raft-node.ts",
         "    const matchIndexes = this.voters.map((voter) => this.progressOf(voter).matchIndex);",
         "    const matchIndexes = [...this.progress.values()].map((peer) => peer.matchIndex);"),
    ],
    "start-a-config-change-while-one-is-uncommitted": [
        ("packages/server/src/raft/raft-node.ts",
         "    if (latest !== undefined && latest.index > this.log.commitIndex) {",
         "    if (latest !== undefined && latest.index > this.log.commitIndex && false) {"),
    ],
}

def main():
    repo = pathlib.Path(sys.argv[1]).resolve()
    filters = sys.argv[2:]
    only = None
    if filters and filters[0].startswith("--only="):
        only = filters[0].split("=", 1)[1]; filters = filters[1:]
    for name, edits in MUTATIONS.items():
        if only and only != name: continue
        originals = {}
        for path, old, new in edits:
            file = repo / path
            text = originals.setdefault(file, file.read_text()) if file not in originals else file.read_text()
            if text.count(old) != 1:
                print(f"{name}: mutation does not apply to {path}", flush=True); break
            file.write_text(text.replace(old, new))
        try:
            run = subprocess.run(["npx", "vitest", "run", "--reporter=json", *filters], cwd=repo, capture_output=True, text=True)
            failed = []
            try:
                import json
                report = json.loads(run.stdout[run.stdout.index("{"):])
                for suite in report["testResults"]:
                    for test in suite["assertionResults"]:
                        if test["status"] == "failed":
                            failed.append(f'{pathlib.Path(suite["name"]).relative_to(repo)} :: {test["title"]}')
            except Exception as error:  # noqa
                failed.append(f"(could not read report: {error}; exit {run.returncode})")
            print(f"== {name}: {'CAUGHT' if failed else 'NOT CAUGHT'} ({len(failed)} failing tests)", flush=True)
            for line in failed[:12]: print(f"   {line}", flush=True)
        finally:
            for file, text in originals.items(): file.write_text(text)

main()
