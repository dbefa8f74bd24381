import { describe, expect, test, vi } from 'vitest';
import { HoldSignal } from './hold-signal.js';

describe('HoldSignal', () => {
  test('a signal read before the end is aborted at the end with the reason', () => {
    const hold = new HoldSignal();
    const signal = hold.signal;
    expect(signal.aborted).toBe(false);
    const reason = new Error('lease lapsed');
    hold.end(() => reason);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe(reason);
    expect(hold.signal).toBe(signal);
  });

  test('a signal first read after the end is already aborted with the same reason', () => {
    const hold = new HoldSignal();
    hold.end(() => new DOMException('released', 'AbortError'));
    expect(hold.ended).toBe(true);
    const signal = hold.signal;
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toMatchObject({ name: 'AbortError', message: 'released' });
    expect(hold.signal.reason).toBe(signal.reason);
  });

  test('the reason is never made when nobody reads the signal, and the first end wins', () => {
    const hold = new HoldSignal();
    const first = vi.fn(() => new Error('first'));
    const second = vi.fn(() => new Error('second'));
    hold.end(first);
    hold.end(second);
    expect(first).not.toHaveBeenCalled();
    expect(second).not.toHaveBeenCalled();
    expect(hold.signal.reason).toMatchObject({ message: 'first' });
    expect(first).toHaveBeenCalledTimes(1);
  });
});
