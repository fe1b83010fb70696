"""Would an ONNX Runtime (int8) embedder give the same neighbours as the torch one, faster?

Exports all-MiniLM-L6-v2's transformer with `torch.onnx.export` into a temporary folder, quantises
it with `onnxruntime.quantization.quantize_dynamic` in three ways, and encodes the same VAERS
narratives with each backend in one process (taking turns chunk by chunk, median of the repeats):
  torch              the project's `Embedder` (sentence-transformers), the reference
  onnx-fp32          the exported graph, not quantised
  onnx-int8          int8 weights per output channel on every weight MatMul (36): optimum's
                     avx2/avx512_vnni defaults, as sentence-transformers'
                     export_dynamic_quantized_onnx_model uses them
  onnx-int8-tensor   int8 weights with one scale per tensor
  onnx-int8-attn     per-channel int8 on the attention projections only; feed-forward kept fp32
ONNX encoding: the model's own tokenizer.json, truncated at the model's max_seq_length, mean pooling
over the attention mask, L2 normalisation. Agreement: 200 of the texts as queries against all of
them (self excluded), top-10 by cosine, mean |torch top-10 & backend top-10| / 10. Last column: the
first 100 texts encoded one at a time against the same texts encoded in batches.

Usage: .venv/bin/python bench/bench_embedding_backends.py [--n 2000] [--repeats 3] [--start 0]
Needs the `onnx` package (torch's exporter and the quantiser both import it): the project's `bench`
extra, `.venv/bin/pip install -e '.[bench]'`. Skips (exit 0) when ../shared/data is absent.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
VAERS = REPO.parent / "shared" / "data" / "vaers" / "vaers_1990_1996.csv"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def export_fp32(embedder, tokenizer, path: Path) -> None:
    """The sentence-transformers model's transformer (token embeddings out), batch and length dynamic."""
    import torch

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state

    sample = _batch(tokenizer, ["patient fell from bed", "wrong dose of insulin given on the ward at night"])
    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "token_embeddings")}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation and tracer notes
        torch.onnx.export(TokenEmbeddings(embedder.model[0].auto_model).eval(), tuple(torch.from_numpy(sample[n]) for n in INPUTS), str(path),
                          dynamo=False, input_names=list(INPUTS), output_names=["token_embeddings"], dynamic_axes=axes, opset_version=17)


def quantise(fp32: Path, out: Path, variant: str) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    weight_matmuls = _weight_matmuls(onnx.load(str(fp32)))
    feed_forward = [name for name in weight_matmuls if "/intermediate/" in name or ("/output/dense/" in name and "/attention/" not in name)]
    options = {"onnx-int8": dict(per_channel=True),
               "onnx-int8-tensor": dict(per_channel=False),
               "onnx-int8-attn": dict(per_channel=True, nodes_to_exclude=feed_forward)}[variant]
    quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"], **options)


def _weight_matmuls(model) -> list[str]:
    weights = {init.name for init in model.graph.initializer}
    return [node.name for node in model.graph.node if node.op_type == "MatMul" and node.input[1] in weights]


def _batch(tokenizer, texts: list[str]) -> dict:
    encodings = tokenizer.encode_batch(texts)
    return {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64)}


def onnx_encoder(path: Path, tokenizer, threads: int, batch_size: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def encode(texts: list[str]) -> np.ndarray:
        order = np.argsort([-len(t) for t in texts], kind="stable")  # like sentence-transformers: little padding per batch
        out = None
        for start in range(0, len(texts), batch_size):
            rows = order[start:start + batch_size]
            batch = _batch(tokenizer, [texts[i] for i in rows])
            tokens = session.run(None, batch)[0]
            mask = batch["attention_mask"][..., None].astype(np.float32)
            pooled = (tokens * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
            if out is None:
                out = np.empty((len(texts), pooled.shape[1]), dtype=np.float32)
            out[rows] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return out

    return encode


def top10(vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
    scores = vectors[queries] @ vectors.T
    scores[np.arange(len(queries)), queries] = -np.inf
    return np.argsort(-scores, axis=1)[:, :10]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="VAERS narratives to encode")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--start", type=int, default=0, help="first VAERS row used")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--chunk", type=int, default=250, help="texts per turn when the backends take turns")
    args = parser.parse_args()
    if not VAERS.is_file():
        print(f"skip: {VAERS} not found (benchmark data lives outside the repo)")
        return 0
    try:
        import onnx  # noqa: F401  (torch.onnx.export and quantize_dynamic need it)
    except ImportError:
        print("error: the onnx package is needed to export and quantise: .venv/bin/pip install onnx")
        return 2
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.getLogger().setLevel(logging.ERROR)  # quantize_dynamic's "consider pre-processing" note
    import torch
    from tokenizers import Tokenizer

    from incident_lens.inputs.report_files import load_reports
    from retrieval.embedder import Embedder

    texts = load_reports(VAERS, text_cols=["SYMPTOM_TEXT"], id_col="VAERS_ID").frame["text"].tolist()[args.start:args.start + args.n]
    embedder = Embedder(batch_size=args.batch_size)
    tokenizer = Tokenizer.from_file(str(embedder.model_path / "tokenizer.json"))
    tokenizer.enable_truncation(embedder.max_tokens)  # the file itself says 128 and fixed padding: not what the model uses
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    threads = torch.get_num_threads()
    reference_ids = embedder.model.preprocess(texts[:200])["input_ids"]
    mismatched = sum(tokenizer.encode(t).ids != [i for i in row.tolist() if i != 0] for t, row in zip(texts[:200], reference_ids))

    encoders = {"torch": embedder.encode}
    build = []
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "model_fp32.onnx"
        start = time.perf_counter()
        export_fp32(embedder, tokenizer, fp32)
        build.append(("onnx-fp32", time.perf_counter() - start, fp32.stat().st_size))
        encoders["onnx-fp32"] = onnx_encoder(fp32, tokenizer, threads, args.batch_size)
        for variant in ("onnx-int8", "onnx-int8-tensor", "onnx-int8-attn"):
            path = Path(tmp) / f"{variant}.onnx"
            start = time.perf_counter()
            quantise(fp32, path, variant)
            build.append((variant, time.perf_counter() - start, path.stat().st_size))
            encoders[variant] = onnx_encoder(path, tokenizer, threads, args.batch_size)

        for encode in encoders.values():
            encode(texts[:64])  # warm up
        names = list(encoders)
        seconds = {name: [] for name in names}
        vectors = {name: [] for name in names}
        chunks = [texts[i:i + args.chunk] for i in range(0, len(texts), args.chunk)]
        for repeat in range(args.repeats):
            took = dict.fromkeys(names, 0.0)
            # Backends take turns chunk by chunk (order rotating), so a neighbour's job that starts
            # or stops mid-run slows all of them alike (the box is shared).
            for number, chunk in enumerate(chunks):
                turn = number + repeat
                for name in names[turn % len(names):] + names[:turn % len(names)]:
                    start = time.perf_counter()
                    encoded = encoders[name](chunk)
                    took[name] += time.perf_counter() - start
                    if repeat == 0:
                        vectors[name].append(encoded)
            for name in names:
                seconds[name].append(took[name])
            print(f"  repeat {repeat + 1}: " + ", ".join(f"{name} {took[name]:.1f} s" for name in names), file=sys.stderr, flush=True)
        vectors = {name: np.concatenate(parts) for name, parts in vectors.items()}
        # Dynamic quantisation scales activations per batch: does a text's vector depend on its batch?
        alone = {name: np.concatenate([encoders[name]([text]) for text in texts[:100]]) for name in names}

    queries = np.random.default_rng(0).choice(len(texts), size=min(200, len(texts)), replace=False)
    reference = top10(vectors["torch"], queries)
    torch_median = statistics.median(seconds["torch"])
    mean_chars = sum(map(len, texts)) / len(texts)
    print(f"VAERS rows {args.start}..{args.start + len(texts) - 1} ({len(texts)} narratives, mean {mean_chars:.0f} chars), {len(queries)} queries, "
          f"batch {args.batch_size}, {threads} threads, turns of {args.chunk} texts, median of {args.repeats}; tokenizer.json ids differ from sentence-transformers' on {mismatched}/200 texts")
    print()
    print("| backend | texts/s | vs torch | recall@10 overlap vs torch | max cosine diff | mean cosine diff | alone vs in batch: max cosine diff |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in names:
        median = statistics.median(seconds[name])
        found = top10(vectors[name], queries)
        overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(reference, found)])
        diff = np.clip(1.0 - (vectors[name] * vectors["torch"]).sum(axis=1), 0.0, None)  # float rounding goes a hair below 0
        batch_effect = 1.0 - (alone[name] * vectors[name][:100]).sum(axis=1)
        print(f"| {name} | {len(texts) / median:.1f} | {torch_median / median:.2f}x | {overlap:.3f} | {diff.max():.4f} | {diff.mean():.5f} | {batch_effect.max():.5f} |")
    print()
    print("| file | build s | MB |")
    print("|---|---:|---:|")
    for name, took, size in build:
        print(f"| {name} | {took:.1f} | {size / 1e6:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
