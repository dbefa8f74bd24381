// utf8ByteLength: how many bytes a string takes as UTF-8, without encoding it. The request validator
// measures every name and argument of every request; TextEncoder.encode allocated a buffer per
// string for that (a few percent of a busy leader's CPU). Shared with the lock state machine, so the
// validator and the log apply the same measure.
//
// A lone surrogate counts 3 bytes: the U+FFFD an encoder (msgpack, TextEncoder) writes in its place.

export function utf8ByteLength(text: string): number {
  let byteCount = 0;
  for (let position = 0; position < text.length; position++) {
    const codeUnit = text.charCodeAt(position);
    if (codeUnit < 0x80) {
      byteCount += 1;
    } else if (codeUnit < 0x800) {
      byteCount += 2;
    } else if (codeUnit >= 0xd800 && codeUnit < 0xdc00 && isLowSurrogate(text.charCodeAt(position + 1))) {
      byteCount += 4; // one astral code point written as a surrogate pair
      position++;
    } else {
      byteCount += 3; // the rest of the BMP, and a lone surrogate (written as U+FFFD)
    }
  }
  return byteCount;
}

function isLowSurrogate(codeUnit: number): boolean {
  return codeUnit >= 0xdc00 && codeUnit <= 0xdfff;
}
