/**
 * A connection's subscriptions as a bitset over the node's dense channel ids: O(1)
 * membership, and unsubscribe-all on close walks set bits without any per-subscription map.
 */
export class ChannelBits {
  private words: Uint32Array;

  constructor(initialBits = 64) {
    this.words = new Uint32Array(Math.max(1, Math.ceil(initialBits / 32)));
  }

  has(id: number): boolean {
    const w = id >>> 5;
    return w < this.words.length && ((this.words[w] as number) & (1 << (id & 31))) !== 0;
  }

  add(id: number): void {
    const w = id >>> 5;
    if (w >= this.words.length) {
      const grown = new Uint32Array(Math.max(w + 1, this.words.length * 2));
      grown.set(this.words);
      this.words = grown;
    }
    this.words[w] = (this.words[w] as number) | (1 << (id & 31));
  }

  delete(id: number): void {
    const w = id >>> 5;
    if (w < this.words.length) this.words[w] = (this.words[w] as number) & ~(1 << (id & 31));
  }

  /** Calls `fn` for each set id, lowest first. */
  forEach(fn: (id: number) => void): void {
    const words = this.words;
    for (let w = 0; w < words.length; w++) {
      let x = words[w] as number;
      while (x !== 0) {
        const bit = 31 - Math.clz32(x & -x);
        fn((w << 5) | bit);
        x &= x - 1;
      }
    }
  }
}
