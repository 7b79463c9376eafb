"""Expected CLIP token ids for ClipTokenizerTests, from a port of OpenAI CLIP's SimpleTokenizer (clip/simple_tokenizer.py).

The port reads the original bpe_simple_vocab_16e6.txt.gz (../shared/data/clip-tokenizer). ftfy is not used and no
Unicode normalisation is applied (OvDiff runs with invariant globalization, where .NET does not normalise). Ids include <|startoftext|> and
<|endoftext|>; truncation to 77 keeps <|endoftext|> last, as Hugging Face's CLIPTokenizer(truncation=True) does.

  python3 clip_reference_ids.py /path/to/bpe_simple_vocab_16e6.txt.gz    (needs the `regex` package)
"""
import gzip, html, json, sys
from functools import lru_cache

import regex as re


@lru_cache()
def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(2 ** 8):
        if b not in bs:
            bs.append(b)
            cs.append(2 ** 8 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def get_pairs(word):
    return set(zip(word, word[1:]))


def clean(text):
    text = html.unescape(html.unescape(text)).strip()
    return re.sub(r"\s+", " ", text).strip()


class SimpleTokenizer:
    def __init__(self, bpe_path):
        self.byte_encoder = bytes_to_unicode()
        merges = gzip.open(bpe_path).read().decode("utf-8").split("\n")
        merges = [tuple(m.split()) for m in merges[1:49152 - 256 - 2 + 1]]
        vocab = list(bytes_to_unicode().values())
        vocab = vocab + [v + "</w>" for v in vocab]
        vocab.extend("".join(m) for m in merges)
        vocab.extend(["<|startoftext|>", "<|endoftext|>"])
        self.encoder = dict(zip(vocab, range(len(vocab))))
        self.bpe_ranks = dict(zip(merges, range(len(merges))))
        self.cache = {"<|startoftext|>": "<|startoftext|>", "<|endoftext|>": "<|endoftext|>"}
        self.pat = re.compile(r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""", re.IGNORECASE)

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        pairs = get_pairs(word)
        if not pairs:
            return token + "</w>"
        while True:
            bigram = min(pairs, key=lambda pair: self.bpe_ranks.get(pair, float("inf")))
            if bigram not in self.bpe_ranks:
                break
            first, second = bigram
            new_word, i = [], 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                    new_word.extend(word[i:j])
                    i = j
                except ValueError:
                    new_word.extend(word[i:])
                    break
                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    new_word.append(first + second)
                    i += 2
                else:
                    new_word.append(word[i])
                    i += 1
            word = tuple(new_word)
            if len(word) == 1:
                break
            pairs = get_pairs(word)
        word = " ".join(word)
        self.cache[token] = word
        return word

    def encode(self, text):
        ids = []
        text = clean(text).lower()
        for token in re.findall(self.pat, text):
            token = "".join(self.byte_encoder[b] for b in token.encode("utf-8"))
            ids.extend(self.encoder[t] for t in self.bpe(token).split(" "))
        return ids


CASES = [
    "there's a dog, isn't it?",
    "10 cats in 2023!!",
    "a_b c-d e.f (g) [h] {i} #1 $2.50 50% @home",
    "café crème brûlée",
    "cafe\u0301",
    "naïve Zoë in São Paulo",
    "Ελληνικά και русский",
    "   many    spaces\tand\nnewlines   ",
    "fish &amp; chips",
    "A good picture of a potted plant",
    "A good picture of a traffic cone",
    "text, low quality, blurry, cartoon, meme, low resolution, bad, poor, faded",
    "",
    "😀 emoji",
]

if __name__ == "__main__":
    tok = SimpleTokenizer(sys.argv[1])
    result = {case: [49406] + tok.encode(case) + [49407] for case in CASES}
    long_text = " ".join(f"word{i}" for i in range(60))
    ids = [49406] + tok.encode(long_text)
    result["<long>"] = ids[:76] + [49407]
    result["<long-untruncated-length>"] = [len(ids) + 1]
    json.dump(result, sys.stdout, ensure_ascii=True, indent=None)
