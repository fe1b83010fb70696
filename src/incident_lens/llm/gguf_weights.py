"""A llama-architecture GGUF's weights as a PyTorch model, and trained weights written back as a new GGUF.

Usage:
    weights = read_llama_gguf(Path("SmolLM2-135M-Instruct.Q4_1.gguf"))   # de-quantised, Hugging Face names
    model = torch_model(weights)                                          # transformers LlamaForCausalLM, fp32
    write_llama_gguf(weights, model.state_dict(), Path("tuned.gguf"), quant="f16", metadata={...})
Only what llama.cpp's converter writes for a plain llama model is handled (the tensors in `TENSOR_NAMES`,
tied or separate output); anything else is `GGUFWeightsError` before any training starts.
Why the permutation: llama.cpp's converter stores `attn_q`/`attn_k` rows permuted for its rotary layout
(`permute` below); reading undoes it so the torch model computes what llama.cpp computes, writing redoes it.
Every key of the base file (tokenizer, chat template, hyper-parameters) is copied into the new file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

WRITABLE_ARCHITECTURES = ("llama",)
# GGUF tensor name (per block with {i}) -> Hugging Face LlamaForCausalLM parameter name.
TENSOR_NAMES = {
    "token_embd.weight": "model.embed_tokens.weight",
    "output_norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
    "blk.{i}.attn_norm.weight": "model.layers.{i}.input_layernorm.weight",
    "blk.{i}.attn_q.weight": "model.layers.{i}.self_attn.q_proj.weight",
    "blk.{i}.attn_k.weight": "model.layers.{i}.self_attn.k_proj.weight",
    "blk.{i}.attn_v.weight": "model.layers.{i}.self_attn.v_proj.weight",
    "blk.{i}.attn_output.weight": "model.layers.{i}.self_attn.o_proj.weight",
    "blk.{i}.ffn_norm.weight": "model.layers.{i}.post_attention_layernorm.weight",
    "blk.{i}.ffn_gate.weight": "model.layers.{i}.mlp.gate_proj.weight",
    "blk.{i}.ffn_up.weight": "model.layers.{i}.mlp.up_proj.weight",
    "blk.{i}.ffn_down.weight": "model.layers.{i}.mlp.down_proj.weight",
}
QUANTS = ("f16", "q8_0")
# Keys the writer sets itself, or that describe the old file's encoding rather than the model.
_NOT_COPIED = ("GGUF.", "general.architecture", "general.file_type", "general.quantization_version")


class GGUFWeightsError(ValueError):
    """A GGUF this module cannot turn into a torch model and back (the message says why)."""


@dataclass
class LlamaWeights:
    path: Path
    hparams: dict  # n_layer, n_embd, n_ff, n_head, n_head_kv, n_vocab, n_ctx, rope_theta, rms_eps, head_dim
    tensors: dict[str, np.ndarray] = field(repr=False)  # Hugging Face name -> float32 array (torch layout)
    tied: bool  # no output.weight: the output layer is the token embedding
    order: list[str] = field(repr=False)  # GGUF tensor names in the base file's order

    def n_params(self) -> int:
        return int(sum(a.size for a in self.tensors.values()))


def permute(weights: np.ndarray, n_head: int) -> np.ndarray:
    """Hugging Face q/k rows -> llama.cpp's order (convert_hf_to_gguf.py's LlamaModel.permute)."""
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def unpermute(weights: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's q/k row order -> Hugging Face's (the inverse of `permute`)."""
    return (weights.reshape(n_head, weights.shape[0] // n_head // 2, 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def _value(reader, key: str):
    found = reader.fields.get(key)
    return None if found is None else found.contents()


def _hf_name(gguf_name: str) -> tuple[str | None, int | None]:
    parts = gguf_name.split(".")
    if parts[0] == "blk" and len(parts) > 2 and parts[1].isdigit():
        pattern = "blk.{i}." + ".".join(parts[2:])
        hf = TENSOR_NAMES.get(pattern)
        return (hf.format(i=parts[1]) if hf else None), int(parts[1])
    return TENSOR_NAMES.get(gguf_name), None


def check_writable(path: Path) -> None:
    """Raise `GGUFWeightsError` unless the file is a llama GGUF whose every tensor this module maps."""
    from gguf import GGUFReader

    reader = GGUFReader(path)
    arch = _value(reader, "general.architecture")
    if arch not in WRITABLE_ARCHITECTURES:
        raise GGUFWeightsError(f"architecture '{arch}': only {', '.join(WRITABLE_ARCHITECTURES)} models can be "
                               "fine-tuned and written back")
    unknown = [t.name for t in reader.tensors if _hf_name(t.name)[0] is None]
    if unknown:
        raise GGUFWeightsError(f"tensor '{unknown[0]}' ({len(unknown)} unmapped) is not part of a plain llama model")


def read_llama_gguf(path: Path) -> LlamaWeights:
    """Every tensor de-quantised to float32 under its Hugging Face name, q/k rows in Hugging Face order."""
    from gguf import GGUFReader, quants

    path = Path(path)
    check_writable(path)
    reader = GGUFReader(path)
    arch = "llama"
    n_head = int(_value(reader, f"{arch}.attention.head_count"))
    n_embd = int(_value(reader, f"{arch}.embedding_length"))
    hparams = {
        "n_layer": int(_value(reader, f"{arch}.block_count")),
        "n_embd": n_embd,
        "n_ff": int(_value(reader, f"{arch}.feed_forward_length")),
        "n_head": n_head,
        "n_head_kv": int(_value(reader, f"{arch}.attention.head_count_kv") or n_head),
        "n_ctx": int(_value(reader, f"{arch}.context_length") or 2048),
        "rope_theta": float(_value(reader, f"{arch}.rope.freq_base") or 10000.0),
        "rms_eps": float(_value(reader, f"{arch}.attention.layer_norm_rms_epsilon") or 1e-5),
        "head_dim": int(_value(reader, f"{arch}.rope.dimension_count") or n_embd // n_head),
    }
    if _value(reader, f"{arch}.rope.scaling.type") not in (None, "none"):
        raise GGUFWeightsError("rope scaling is set; only plain rotary embeddings are handled")
    tensors, order = {}, []
    for tensor in reader.tensors:
        name, _layer = _hf_name(tensor.name)
        data = quants.dequantize(tensor.data, tensor.tensor_type).astype(np.float32, copy=False)
        shape = tuple(int(d) for d in reversed(tensor.shape.tolist()))
        data = np.ascontiguousarray(data.reshape(shape))
        if tensor.name.endswith("attn_q.weight"):
            data = unpermute(data, hparams["n_head"])
        elif tensor.name.endswith("attn_k.weight"):
            data = unpermute(data, hparams["n_head_kv"])
        tensors[name] = data
        order.append(tensor.name)
    hparams["n_vocab"] = int(tensors["model.embed_tokens.weight"].shape[0])
    return LlamaWeights(path, hparams, tensors, "lm_head.weight" not in tensors, order)


def torch_model(weights: LlamaWeights):
    """A transformers `LlamaForCausalLM` in float32 holding these weights (eager attention, no dropout)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    h = weights.hparams
    config = LlamaConfig(vocab_size=h["n_vocab"], hidden_size=h["n_embd"], intermediate_size=h["n_ff"],
                         num_hidden_layers=h["n_layer"], num_attention_heads=h["n_head"],
                         num_key_value_heads=h["n_head_kv"], head_dim=h["head_dim"], max_position_embeddings=h["n_ctx"],
                         rms_norm_eps=h["rms_eps"], rope_theta=h["rope_theta"], tie_word_embeddings=weights.tied,
                         attention_bias=False, mlp_bias=False, attention_dropout=0.0, hidden_act="silu",
                         torch_dtype="float32")
    config._attn_implementation = "sdpa"
    model = LlamaForCausalLM(config)
    state = {name: torch.from_numpy(array if array.flags.writeable else array.copy()) for name, array in weights.tensors.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if not (weights.tied and m == "lm_head.weight") and "rotary_emb" not in m]
    if missing or unexpected:
        raise GGUFWeightsError(f"weights do not fit the llama model (missing {missing[:3]}, unexpected {unexpected[:3]})")
    if weights.tied:
        model.tie_weights()
    return model.float()


def _copy_metadata(reader, writer) -> None:
    from gguf import GGUFValueType

    for key, found in reader.fields.items():
        if key.startswith(_NOT_COPIED) or key.startswith("incident_lens."):
            continue
        kind = found.types[0]
        sub = found.types[-1] if kind == GGUFValueType.ARRAY else None
        writer.add_key_value(key, found.contents(), kind, sub_type=sub)


def write_llama_gguf(weights: LlamaWeights, state: dict, out: Path, quant: str = "f16",
                     metadata: dict | None = None) -> Path:
    """A new GGUF at `out` (atomically): the base file's keys, `state`'s tensors (q/k re-permuted for llama.cpp),
    2-D weights as `quant` (f16 or q8_0) and norms in F32, `metadata` under `incident_lens.finetune` as JSON."""
    from gguf import GGMLQuantizationType, GGUFReader, GGUFWriter, LlamaFileType, quants

    if quant not in QUANTS:
        raise GGUFWeightsError(f"quantisation '{quant}': use one of {', '.join(QUANTS)}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    reader = GGUFReader(weights.path)
    writer = GGUFWriter(tmp, "llama")
    _copy_metadata(reader, writer)
    writer.add_file_type(LlamaFileType.MOSTLY_F16 if quant == "f16" else LlamaFileType.MOSTLY_Q8_0)
    writer.add_quantization_version(2)
    if metadata is not None:
        writer.add_string("incident_lens.finetune", json.dumps(metadata, sort_keys=True, default=str))
    h = weights.hparams
    for gguf_name in weights.order:
        name, _layer = _hf_name(gguf_name)
        tensor = state[name]
        data = tensor.detach().to("cpu").float().numpy() if hasattr(tensor, "detach") else np.asarray(tensor, np.float32)
        if gguf_name.endswith("attn_q.weight"):
            data = permute(data, h["n_head"])
        elif gguf_name.endswith("attn_k.weight"):
            data = permute(data, h["n_head_kv"])
        data = np.ascontiguousarray(data, dtype=np.float32)
        if data.ndim == 1:
            writer.add_tensor(gguf_name, data)
        elif quant == "f16":
            writer.add_tensor(gguf_name, data.astype(np.float16))
        else:
            writer.add_tensor(gguf_name, quants.quantize(data, GGMLQuantizationType.Q8_0),
                              raw_dtype=GGMLQuantizationType.Q8_0)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp.replace(out)
    return out


def estimated_size(weights: LlamaWeights, quant: str) -> int:
    """Bytes a written file will take (tensors only; keys add a few MB at most)."""
    per = 2.0 if quant == "f16" else 34 / 32
    return int(weights.n_params() * per)
