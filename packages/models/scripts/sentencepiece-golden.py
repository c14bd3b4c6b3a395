"""Writes src/testdata/llama-32k-golden.json: reference token ids from Google's SentencePiece for the LLaMA 32k
tokenizer.model (offline only; the tests read the JSON and never run Python).
  apt-get install python3-sentencepiece
  /usr/bin/python3 packages/models/scripts/sentencepiece-golden.py ../shared/models/llama2c-tokenizer-32k/tokenizer.model
The ids are sp.encode(text) (no BOS/EOS), which is what LLaMA's tokenizer gives with add_special_tokens=False."""
import json
import sys

import sentencepiece as spm

TEXTS = [
    "",
    "Hello world",
    "I believe the meaning of life is",
    "Once upon a time, there was a little girl named Lily.",
    " leading space",
    "   three leading spaces",
    "trailing space ",
    "a  b   c",
    "line one\nline two",
    "\n",
    "\n\nTwo newlines first",
    "tabs\there\tand\tthere",
    "héllo wörld",
    "naïve café résumé",
    "世界 日本語",
    "Ω≈ç√∫ ∑∆",
    "😀 emoji 🎉",
    "🦙llama",
    "numbers 3.14159 and 1234567",
    "<s> is text here",
    "it's 42 o'clock!",
]

sp = spm.SentencePieceProcessor(model_file=sys.argv[1])
out = {
    "source": "sentencepiece " + spm.__version__ + " on llama2c-tokenizer-32k/tokenizer.model, sp.encode(text)",
    "script": "packages/models/scripts/sentencepiece-golden.py",
    "cases": [{"text": t, "ids": sp.encode(t)} for t in TEXTS],
}
with open("packages/models/src/testdata/llama-32k-golden.json", "w", encoding="utf-8") as f:
    # One case per line keeps the file short and its diffs readable.
    f.write("{\n")
    f.write(f' "source": {json.dumps(out["source"])},\n "script": {json.dumps(out["script"])},\n "cases": [\n')
    f.write(",\n".join("  " + json.dumps(c, ensure_ascii=False) for c in out["cases"]))
    f.write("\n ]\n}\n")
