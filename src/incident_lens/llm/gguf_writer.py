"""Writing llama-architecture GGUF files with random weights: stand-ins for a real model in tests and benchmarks.

Usage: `write_test_gguf(Path("tiny.gguf"), size="tiny")` (seconds, < 1 MB) or `size="1b"` (Q8_0, ~1.1 GB);
`chat_template="llama3"` (any name in `TEMPLATE_FAMILIES`) or `None` (a base model with no template),
`context_length=2048` to override the size's trained context.
The tokenizer is a real byte-level BPE trained with `tokenizers` on text this package ships (its task
files and source), and the file carries a real chat template (ChatML unless asked otherwise) with that
family's special tokens, BOS/EOS and add-BOS flag, so llama.cpp runs it like any chat model.
Outputs are meaningless; cost per token and the code paths around the model are real.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from importlib import resources
from pathlib import Path

import numpy as np

from incident_lens.errors import UserError
from incident_lens.llm.chat_templates import BUILTIN as BUILTIN_TEMPLATES

BOS, IM_START, IM_END = "<|endoftext|>", "<|im_start|>", "<|im_end|>"
SPECIAL_TOKENS = (BOS, IM_START, IM_END)
# ChatML, written with explicit '\n' strings: llama-cpp-python renders templates with trim_blocks.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


@dataclass(frozen=True)
class TemplateFamily:
    """What a real model of this family carries next to its chat template."""

    template: str
    specials: tuple[str, ...]  # control tokens, in id order from 0
    bos: str
    eos: str
    add_bos: bool  # tokenizer.ggml.add_bos_token


# Special tokens, BOS/EOS and add_bos as in the published GGUFs of Qwen/SmolLM, Llama 3, Gemma 3, Phi-3
# and Mistral v0.2. "chatml" keeps this module's own template (the one every earlier test model carried).
TEMPLATE_FAMILIES = {
    "chatml": TemplateFamily(CHAT_TEMPLATE, SPECIAL_TOKENS, BOS, IM_END, False),
    "llama3": TemplateFamily(BUILTIN_TEMPLATES["llama3"], ("<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
                             "<|end_header_id|>", "<|eot_id|>"), "<|begin_of_text|>", "<|eot_id|>", True),
    "gemma": TemplateFamily(BUILTIN_TEMPLATES["gemma"], ("<pad>", "<eos>", "<bos>", "<start_of_turn>", "<end_of_turn>"),
                            "<bos>", "<eos>", True),
    "phi3": TemplateFamily(BUILTIN_TEMPLATES["phi3"], ("<unk>", "<s>", "</s>", "<|endoftext|>", "<|system|>", "<|user|>",
                           "<|assistant|>", "<|end|>"), "<s>", "<|endoftext|>", True),
    "mistral": TemplateFamily(BUILTIN_TEMPLATES["mistral"], ("<unk>", "<s>", "</s>"), "<s>", "</s>", True),
}


@dataclass(frozen=True)
class ModelShape:
    n_layer: int
    n_embd: int
    n_ff: int
    n_head: int
    n_head_kv: int
    vocab_size: int  # requested; the trained BPE may come out smaller on a small corpus
    context_length: int
    quant: str  # "f32" | "f16" | "q8_0" for the 2-D weights (norms stay F32)


SIZES = {
    # Loads and answers in milliseconds: for tests through the real llama.cpp path.
    "tiny": ModelShape(n_layer=2, n_embd=64, n_ff=128, n_head=4, n_head_kv=4, vocab_size=4096, context_length=8192, quant="f32"),
    # A few seconds per report on 2 cores: for quick benchmark runs.
    "small": ModelShape(n_layer=8, n_embd=512, n_ff=1536, n_head=8, n_head_kv=4, vocab_size=4096, context_length=8192, quant="q8_0"),
    # Llama-3.2-1B's trunk (16 x 2048, GQA 32/8, FFN 8192): the cost of a real 1B model per token.
    "1b": ModelShape(n_layer=16, n_embd=2048, n_ff=8192, n_head=32, n_head_kv=8, vocab_size=8192, context_length=8192, quant="q8_0"),
}


# Demo data read for the tokenizer, per file: enough for clinical words to become tokens.
DEMO_CHARS = 200_000


def corpus_texts() -> list[str]:
    """Text the project ships: task definitions, package source and, in a checkout, the demo data.

    Deterministic for a given checkout; the demo reports make clinical words single tokens, so prompts
    cost about as many tokens as with a real model's tokenizer.
    """
    texts = []
    demo = Path(__file__).resolve().parents[3] / "data" / "demo"
    for csv_file in sorted(demo.glob("*.csv")) if demo.is_dir() else []:
        texts.append(csv_file.read_text(encoding="utf-8")[:DEMO_CHARS])
    package = resources.files("incident_lens")
    for entry in sorted(package.iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".py"):
            texts.append(entry.read_text(encoding="utf-8"))
    tasks = package / "tasks"
    for entry in sorted(tasks.iterdir(), key=lambda p: p.name):
        if entry.name.endswith((".toml", ".yaml", ".yml")):
            texts.append(entry.read_text(encoding="utf-8"))
    return texts


def train_tokenizer(texts: list[str], vocab_size: int, specials: tuple[str, ...] = SPECIAL_TOKENS):
    """A byte-level BPE (every byte is a token, so any text can be encoded) with the given specials (ChatML's)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=2, special_tokens=list(specials),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    return tokenizer


def _vocab_arrays(tokenizer, specials: tuple[str, ...] = SPECIAL_TOKENS) -> tuple[list[str], list[int], list[str]]:
    from gguf import TokenType

    vocab = tokenizer.get_vocab()
    tokens = [token for token, _ in sorted(vocab.items(), key=lambda item: item[1])]
    if [vocab[t] for t in tokens] != list(range(len(tokens))):
        raise RuntimeError("BPE vocabulary ids are not contiguous")
    types = [TokenType.CONTROL if t in specials else TokenType.NORMAL for t in tokens]
    merges = json.loads(tokenizer.to_str())["model"]["merges"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in merges]
    return tokens, [int(t) for t in types], merges


def _weights(rng: np.random.Generator, shape: tuple[int, ...], quant: str):
    """Random N(0, 0.02) weights, quantised as asked; returns (data, raw_dtype or None)."""
    from gguf import GGMLQuantizationType, quants

    data = rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02)
    if quant == "f32":
        return data, None
    if quant == "f16":
        return data.astype(np.float16), None
    if quant == "q8_0":
        return quants.quantize(data, GGMLQuantizationType.Q8_0), GGMLQuantizationType.Q8_0
    raise ValueError(f"unknown quantisation {quant!r}; use f32, f16 or q8_0")


def write_test_gguf(path: Path, size: str = "tiny", seed: int = 0, quant: str | None = None,
                    texts: list[str] | None = None, chat_template: str | None = "chatml",
                    context_length: int | None = None) -> Path:
    """Write a random-weight llama GGUF of the named size to `path` (atomically) and return the path.

    `chat_template`: a name in `TEMPLATE_FAMILIES`, or None for a file without one (like a base model).
    """
    from gguf import GGUFWriter, LlamaFileType

    if size not in SIZES:
        raise UserError(f"unknown model size '{size}'; use one of {', '.join(SIZES)}")
    if chat_template is not None and chat_template not in TEMPLATE_FAMILIES:
        raise UserError(f"unknown chat template family '{chat_template}'; use one of {', '.join(TEMPLATE_FAMILIES)}")
    family = TEMPLATE_FAMILIES[chat_template or "chatml"]
    shape = SIZES[size]
    if context_length is not None:
        shape = replace(shape, context_length=context_length)
    quant = quant or shape.quant
    file_type = {"f32": LlamaFileType.ALL_F32, "f16": LlamaFileType.MOSTLY_F16, "q8_0": LlamaFileType.MOSTLY_Q8_0}.get(quant)
    if file_type is None:
        raise UserError(f"unknown quantisation '{quant}'; use f32, f16 or q8_0")
    tokenizer = train_tokenizer(texts if texts is not None else corpus_texts(), shape.vocab_size, family.specials)
    tokens, token_types, merges = _vocab_arrays(tokenizer, family.specials)
    n_vocab = len(tokens)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    writer = GGUFWriter(tmp, "llama")
    writer.add_name(f"incident-lens random {size}")
    writer.add_context_length(shape.context_length)
    writer.add_embedding_length(shape.n_embd)
    writer.add_block_count(shape.n_layer)
    writer.add_feed_forward_length(shape.n_ff)
    writer.add_head_count(shape.n_head)
    writer.add_head_count_kv(shape.n_head_kv)
    writer.add_rope_dimension_count(shape.n_embd // shape.n_head)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(n_vocab)
    writer.add_file_type(file_type)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(token_types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(tokens.index(family.bos))
    writer.add_eos_token_id(tokens.index(family.eos))
    writer.add_add_bos_token(family.add_bos)
    if chat_template is not None:
        writer.add_chat_template(family.template)
    writer.add_string("incident_lens.test_model", json.dumps({"size": size, "seed": seed, **asdict(shape), "quant": quant,
                                                              "chat_template": chat_template}))

    rng = np.random.default_rng(seed)
    head_dim = shape.n_embd // shape.n_head
    kv_dim = head_dim * shape.n_head_kv
    ones = np.ones(shape.n_embd, dtype=np.float32)

    def add(name: str, shape_: tuple[int, ...]) -> None:
        data, raw_dtype = _weights(rng, shape_, quant)
        writer.add_tensor(name, data, raw_dtype=raw_dtype)

    # Shapes as torch Linear weights (out_features, in_features); the writer reverses them for ggml.
    add("token_embd.weight", (n_vocab, shape.n_embd))
    for i in range(shape.n_layer):
        writer.add_tensor(f"blk.{i}.attn_norm.weight", ones)
        add(f"blk.{i}.attn_q.weight", (shape.n_embd, shape.n_embd))
        add(f"blk.{i}.attn_k.weight", (kv_dim, shape.n_embd))
        add(f"blk.{i}.attn_v.weight", (kv_dim, shape.n_embd))
        add(f"blk.{i}.attn_output.weight", (shape.n_embd, shape.n_embd))
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", ones)
        add(f"blk.{i}.ffn_gate.weight", (shape.n_ff, shape.n_embd))
        add(f"blk.{i}.ffn_up.weight", (shape.n_ff, shape.n_embd))
        add(f"blk.{i}.ffn_down.weight", (shape.n_embd, shape.n_ff))
    writer.add_tensor("output_norm.weight", ones)
    add("output.weight", (n_vocab, shape.n_embd))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp.replace(path)
    return path
