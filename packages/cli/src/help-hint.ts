// helpHint: which --help a usage error should point at, from the command words in argv. The tables
// repeat the command names and value-taking options of commands/*.ts: yargs only knows them once a
// command's builder has run, too late for a hint about a word that named no command. index.test.ts
// walks the real --help tree and fails when a table misses a command or an option.

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

/** Options that take a value as the next word (`--endpoints 10.0.0.1:7070`): that word is no command. */
const optionsWithValues: ReadonlySet<string> = new Set(['--endpoints', '--token', '--tls-ca', '--timeout', '--ttl', '--wait', '--grace', '--metadata', '--limit', '--kind']);

/** The words of argv that are not options or their values, up to `--`. */
function commandWords(argv: readonly string[]): string[] {
  const words: string[] = [];
  for (let position = 0; position < argv.length; position++) {
    const word = argv[position] as string;
    if (word === '--') break;
    if (word.startsWith('-')) {
      if (optionsWithValues.has(word)) position++; // its value follows
      continue;
    }
    words.push(word);
  }
  return words;
}

/** "raftlock lock run --help" for `raftlock lock run job sh -c …`: the command words in argv. */
export function helpHint(argv: readonly string[]): string {
  const [command, subcommand] = commandWords(argv);
  if (command === undefined || !Object.hasOwn(subcommands, command)) return 'raftlock --help';
  if (subcommand !== undefined && subcommands[command]?.includes(subcommand)) return `raftlock ${command} ${subcommand} --help`;
  return `raftlock ${command} --help`;
}

/** The command or subcommand word of argv that names none (`statsu`, `lock geet`), if any. */
export function unknownCommandWord(argv: readonly string[]): string | undefined {
  const [command, subcommand] = commandWords(argv);
  if (command === undefined) return undefined;
  if (!Object.hasOwn(subcommands, command)) return command;
  const known = subcommands[command] ?? [];
  if (known.length > 0 && subcommand !== undefined && !known.includes(subcommand)) return `${command} ${subcommand}`;
  return undefined;
}
