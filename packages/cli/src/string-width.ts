// stringWidth: the columns a string takes in a terminal — ANSI colour codes take none, combining
// marks and zero-width characters none, East Asian wide and fullwidth characters and emoji two.
//
// It is also what the `raftlock` binary gives yargs and cliui in place of the `string-width`
// package (scripts/bundle-bin.mjs aliases it). That package builds an Intl.Segmenter when it is
// loaded and runs a several-kilobyte emoji regex per character, which cost ~50 ms of every start and
// ~30 ms more per --help on the reference machine; help text and tables are ASCII in practice, and
// the ranges below are right for the rest of what an operator types.

// eslint-disable-next-line no-control-regex -- matching terminal escape sequences is the point
const ansiPattern = /\u001b\[[0-9;?]*[A-Za-z]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)/g;

function isZeroWidth(codePoint: number): boolean {
  return (
    codePoint < 0x20 ||
    (codePoint >= 0x7f && codePoint < 0xa0) ||
    (codePoint >= 0x300 && codePoint <= 0x36f) || // combining diacritical marks
    (codePoint >= 0x200b && codePoint <= 0x200f) || // zero-width space, joiners, direction marks
    (codePoint >= 0x20d0 && codePoint <= 0x20ff) || // combining marks for symbols
    (codePoint >= 0xfe00 && codePoint <= 0xfe0f) || // variation selectors
    (codePoint >= 0xfe20 && codePoint <= 0xfe2f) || // combining half marks
    codePoint === 0xfeff
  );
}

function isWide(codePoint: number): boolean {
  return (
    (codePoint >= 0x1100 && codePoint <= 0x115f) || // Hangul Jamo
    (codePoint >= 0x2e80 && codePoint <= 0x303e) || // CJK radicals, punctuation
    (codePoint >= 0x3041 && codePoint <= 0x33ff) || // kana, CJK symbols
    (codePoint >= 0x3400 && codePoint <= 0x4dbf) || // CJK extension A
    (codePoint >= 0x4e00 && codePoint <= 0x9fff) || // CJK unified ideographs
    (codePoint >= 0xa000 && codePoint <= 0xa4cf) || // Yi
    (codePoint >= 0xac00 && codePoint <= 0xd7a3) || // Hangul syllables
    (codePoint >= 0xf900 && codePoint <= 0xfaff) || // CJK compatibility ideographs
    (codePoint >= 0xfe30 && codePoint <= 0xfe4f) || // CJK compatibility forms
    (codePoint >= 0xff00 && codePoint <= 0xff60) || // fullwidth forms
    (codePoint >= 0xffe0 && codePoint <= 0xffe6) ||
    (codePoint >= 0x1f300 && codePoint <= 0x1f64f) || // emoji: pictographs, emoticons
    (codePoint >= 0x1f900 && codePoint <= 0x1f9ff) ||
    (codePoint >= 0x20000 && codePoint <= 0x3fffd) // CJK extensions B and later
  );
}

export function stringWidth(text: string): number {
  if (typeof text !== 'string' || text.length === 0) return 0;
  const plain = text.includes('\u001b') ? text.replace(ansiPattern, '') : text;
  let width = 0;
  for (const character of plain) {
    const codePoint = character.codePointAt(0) ?? 0;
    if (codePoint >= 0x20 && codePoint < 0x7f) width += 1;
    else if (isZeroWidth(codePoint)) continue;
    else width += isWide(codePoint) ? 2 : 1;
  }
  return width;
}

export default stringWidth;
