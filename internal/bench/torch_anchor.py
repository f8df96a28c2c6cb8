#!/usr/bin/python3
"""PyTorch CPU performance anchor for the Go GPT-2 / Llama / LoRA benchmark.  See README.md.

  /usr/bin/python3 internal/bench/torch_anchor.py                  # all workloads
  /usr/bin/python3 internal/bench/torch_anchor.py --workload tiny-lora --json
  /usr/bin/python3 internal/bench/torch_anchor.py --threads-setting 1,2 --coretype SkylakeX
  /usr/bin/python3 internal/bench/torch_anchor.py --workload small-lora --autocast --json

Self-contained: only torch + the standard library.  Every (workload, BLAS core type,
thread setting) runs in its own child process, so peak RSS (ru_maxrss) is per workload,
and the child sets OPENBLAS_CORETYPE and OPENBLAS_NUM_THREADS before it imports torch.
Per workload, short runs at ob2,t1 first pick the fastest OpenBLAS kernel the CPU supports
(autodetection may pick a slow one), then full runs pick the thread setting.  The best
result per workload is reported on stdout; every run is logged on stderr.

GPT-2 (Hugging Face GPT2LMHeadModel semantics and weight layout), float32: pre-LN blocks,
Conv1D weights stored [in, out] (y = x @ W + b), fused c_attn columns [q | k | v], causal
softmax(q k^T / sqrt(head_dim)), MLP c_proj(gelu_tanh(c_fc(x))), LayerNorm eps 1e-5,
lm_head tied to wte.
Llama (HF LlamaForCausalLM, modeling_llama.py), float32: pre-norm blocks with RMSNorm,
nn.Linear weights [out, in] without biases, RoPE (rotate_half) on q and k, GQA by
repeat_kv, causal softmax(q k^T / sqrt(head_dim)), MLP down_proj(silu(gate_proj(x)) *
up_proj(x)), lm_head tied to embed_tokens.
LoRA (PEFT layout) on q and v of every layer: q += (alpha/r) * x A_q^T B_q^T, v likewise;
A [r, in], B [out, r].
--autocast runs the training workloads' forward passes under torch.autocast("cpu",
dtype=torch.bfloat16), as Hugging Face's Trainer does with bf16=True (weights kept in
float32, matmuls in bfloat16 through oneDNN, on AMX tiles where the CPU has them): the
anchor for llmtune's "-amx" workloads (base_dtype: bf16_amx).
"""
import argparse
import contextlib
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time

WORKLOADS = ["tiny-lora", "small-lora", "tiny-full", "small-generate", "smollm-lora", "smollm-generate"]
# (OPENBLAS_NUM_THREADS, torch.set_num_threads)
SETTINGS = [(1, 2), (2, 1), (2, 2)]
# OPENBLAS_CORETYPE candidates besides "auto" (unset: OpenBLAS autodetects), with the /proc/cpuinfo
# flags their kernels need.  Short runs at PROBE_SETTING pick the fastest, per workload.
CORETYPES = [
    ("Haswell", {"avx2", "fma"}),
    ("SkylakeX", {"avx512f", "avx512bw", "avx512dq", "avx512vl"}),
    ("CooperLake", {"avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512_bf16"}),
]
AUTO = "auto"
PROBE_SETTING = (2, 1)
PROBE_WARMUP, PROBE_STEPS = 1, 2  # a probe is a short run: 1 warm-up, median of 2 timed
MAX_SGEMM_REL_ERR = 1e-5  # 256x384 @ 384x512 float32 vs float64, max |err| / max |ref|

VOCAB, N_POSITIONS, LN_EPS = 50257, 1024, 1e-5  # GPT-2
TINY = dict(arch="gpt2", vocab=VOCAB, n_layer=4, n_embd=256, n_head=4)
SMALL = dict(arch="gpt2", vocab=VOCAB, n_layer=12, n_embd=768, n_head=12)  # GPT-2 124M shape
# SmolLM2-135M shape (HF LlamaConfig: hidden_size 576, intermediate_size 1536, num_hidden_layers 30,
# num_attention_heads 9, num_key_value_heads 3, head_dim 64, vocab_size 49152, max_position_embeddings 8192,
# rms_norm_eps 1e-5, rope_theta 100000, tie_word_embeddings, no biases, hidden_act silu)
SMOLLM = dict(arch="llama", vocab=49152, n_layer=30, n_embd=576, n_head=9, n_kv_head=3, head_dim=64, n_inner=1536)
RMS_EPS, ROPE_THETA = 1e-5, 100000.0  # Llama
LORA_R, LORA_ALPHA = 8, 16.0
LR = 1e-4
WARMUP = 2
SPEC = {
    "tiny-lora": dict(model=TINY, B=8, T=128, lora=True, steps=10),
    "small-lora": dict(model=SMALL, B=4, T=128, lora=True, steps=5),
    "tiny-full": dict(model=TINY, B=8, T=128, lora=False, steps=10),
    "small-generate": dict(model=SMALL, prompt=32, new=128, runs=3),
    "smollm-lora": dict(model=SMOLLM, B=4, T=128, lora=True, steps=5),
    "smollm-generate": dict(model=SMOLLM, prompt=32, new=128, runs=3),
}
PARAM_SEED, DATA_SEED = 0, 1

torch = None  # imported in the child, after OPENBLAS_CORETYPE and OPENBLAS_NUM_THREADS are set
F = None


def setting_name(ob, nt):
    return "ob%d,t%d" % (ob, nt)


def import_torch(ob, nt, coretype):
    global torch, F
    os.environ["OPENBLAS_NUM_THREADS"] = str(ob)
    if coretype == AUTO:
        os.environ.pop("OPENBLAS_CORETYPE", None)
    else:
        os.environ["OPENBLAS_CORETYPE"] = coretype
    try:
        import torch as _torch
        import torch.nn.functional as _F
    except ImportError as e:
        sys.exit("torch is not importable by %s (%s). Use /usr/bin/python3 after "
                 "`apt-get install -y python3-torch libopenblas0-pthread`." % (sys.executable, e))
    torch, F = _torch, _F
    torch.set_num_threads(nt)


def openblas_info():
    """(threads, core name) of the OpenBLAS torch actually loaded, or (None, None) if torch's BLAS
    is not OpenBLAS.  dlopen of the path already mapped returns that same library."""
    with open("/proc/self/maps") as f:
        paths = [line.split(None, 5)[5].strip() for line in f if "libopenblas" in line]
    if not paths:
        return None, None
    import ctypes
    try:
        lib = ctypes.CDLL(paths[0])
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return int(lib.openblas_get_num_threads()), lib.openblas_get_corename().decode()
    except (OSError, AttributeError):
        return None, None


def sgemm_rel_error():
    """Max |C - C64| / max |C64| of a seeded float32 256x384 @ 384x512 product, C64 in float64."""
    g = torch.Generator().manual_seed(DATA_SEED)
    a, b = torch.randn(256, 384, generator=g), torch.randn(384, 512, generator=g)
    ref = a.double() @ b.double()
    return float((a @ b - ref).abs().max() / ref.abs().max())


def cpu_coretypes():
    """The CORETYPES whose kernels this CPU can run, by /proc/cpuinfo flags."""
    flags = set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    return [name for name, need in CORETYPES if need <= flags]


# ---------------------------------------------------------------- GPT-2 (functional)

def gpt2_params(m, lora):
    """HF names (minus the 'transformer.' prefix).  Weights N(0, 0.02), biases 0, LN 1/0;
    LoRA A kaiming-uniform(a=sqrt(5)) == U(-1/sqrt(d), 1/sqrt(d)), LoRA B zeros."""
    torch.manual_seed(PARAM_SEED)
    d = m["n_embd"]

    def normal(*shape):
        return torch.empty(*shape).normal_(0.0, 0.02)

    P = {"wte.weight": normal(m["vocab"], d), "wpe.weight": normal(N_POSITIONS, d)}
    for i in range(m["n_layer"]):
        p = "h.%d." % i
        P[p + "ln_1.weight"], P[p + "ln_1.bias"] = torch.ones(d), torch.zeros(d)
        P[p + "attn.c_attn.weight"], P[p + "attn.c_attn.bias"] = normal(d, 3 * d), torch.zeros(3 * d)
        P[p + "attn.c_proj.weight"], P[p + "attn.c_proj.bias"] = normal(d, d), torch.zeros(d)
        P[p + "ln_2.weight"], P[p + "ln_2.bias"] = torch.ones(d), torch.zeros(d)
        P[p + "mlp.c_fc.weight"], P[p + "mlp.c_fc.bias"] = normal(d, 4 * d), torch.zeros(4 * d)
        P[p + "mlp.c_proj.weight"], P[p + "mlp.c_proj.bias"] = normal(4 * d, d), torch.zeros(d)
    P["ln_f.weight"], P["ln_f.bias"] = torch.ones(d), torch.zeros(d)
    if lora:
        for i in range(m["n_layer"]):
            for part in ("q", "v"):
                p = "h.%d.attn.c_attn.%s." % (i, part)
                A = torch.empty(LORA_R, d)
                torch.nn.init.kaiming_uniform_(A, a=math.sqrt(5))
                P[p + "lora_A.weight"], P[p + "lora_B.weight"] = A, torch.zeros(d, LORA_R)
    return P


def layer_norm(x, P, name):
    return F.layer_norm(x, (x.shape[-1],), P[name + ".weight"], P[name + ".bias"], LN_EPS)


def matmul(x, w, w_is_out_in):
    """x [..., k] times w ([k, n], or [n, k] when w_is_out_in).  A single row (one decoding token) goes
    through BLAS gemv: OpenBLAS 0.3.21 runs a one-row sgemm as a full GEMM, 2-3x slower than its gemv
    (measured on the tied 50257x768 head: 17-18 ms vs 6-7 ms), and a user's torch (MKL) does not pay that."""
    if x.numel() == x.shape[-1]:
        wt = w if w_is_out_in else w.t()
        return torch.mv(wt, x.reshape(-1)).view(*x.shape[:-1], -1)
    return x @ (w.t() if w_is_out_in else w)


def linear(x2d, P, name):  # HF Conv1D: [in, out] weight, fused bias
    if x2d.shape[0] == 1:
        return torch.addmv(P[name + ".bias"], P[name + ".weight"].t(), x2d[0]).unsqueeze(0)
    return torch.addmm(P[name + ".bias"], x2d, P[name + ".weight"])


def gpt2_block(x, P, i, n_head, lora, cache=None, pos0=0):
    """x [B, T, d].  cache: (K, V) buffers [B, H, max_len, hd] filled at pos0..pos0+T-1."""
    B, T, d = x.shape
    hd = d // n_head
    p = "h.%d." % i
    h = layer_norm(x, P, p + "ln_1").reshape(B * T, d)
    qkv = linear(h, P, p + "attn.c_attn")
    q, k, v = qkv.split(d, dim=1)
    if lora:
        s = LORA_ALPHA / LORA_R
        la = p + "attn.c_attn."
        q = q + s * ((h @ P[la + "q.lora_A.weight"].t()) @ P[la + "q.lora_B.weight"].t())
        v = v + s * ((h @ P[la + "v.lora_A.weight"].t()) @ P[la + "v.lora_B.weight"].t())
    q, k, v = (t.reshape(B, T, n_head, hd).transpose(1, 2) for t in (q, k, v))
    if cache is not None:
        K, V = cache
        K[:, :, pos0:pos0 + T] = k
        V[:, :, pos0:pos0 + T] = v
        k, v = K[:, :, :pos0 + T], V[:, :, :pos0 + T]
    att = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(hd))
    if T > 1:  # query t (absolute pos0 + t) sees keys 0..pos0 + t
        L = pos0 + T
        mask = torch.ones(T, L, dtype=torch.bool).tril(diagonal=pos0)
        att = att.masked_fill(~mask, float("-inf"))
    y = (att.softmax(dim=-1) @ v).transpose(1, 2).reshape(B * T, d)
    x = x + linear(y, P, p + "attn.c_proj").view(B, T, d)
    h = layer_norm(x, P, p + "ln_2").reshape(B * T, d)
    h = F.gelu(linear(h, P, p + "mlp.c_fc"), approximate="tanh")  # == HF gelu_new
    return x + linear(h, P, p + "mlp.c_proj").view(B, T, d)


def gpt2_hidden(P, ids, m, lora, caches=None, pos0=0):
    T = ids.shape[1]
    x = F.embedding(ids, P["wte.weight"]) + P["wpe.weight"][pos0:pos0 + T][None]
    for i in range(m["n_layer"]):
        x = gpt2_block(x, P, i, m["n_head"], lora, None if caches is None else caches[i], pos0)
    return x


def gpt2_head(P, x):  # x [N, d] -> logits [N, V]: ln_f, then the lm_head tied to wte
    return matmul(layer_norm(x, P, "ln_f"), P["wte.weight"], True)


# ---------------------------------------------------------------- Llama (functional)

def llama_params(m, lora):
    """HF names (minus the 'model.' prefix), nn.Linear weights [out, in], no biases.  Weights and
    embeddings N(0, 0.02), RMSNorm weights 1; LoRA as for GPT-2: A [r, in] kaiming-uniform(a=sqrt(5))
    == U(-1/sqrt(in), 1/sqrt(in)), B [out, r] zeros."""
    torch.manual_seed(PARAM_SEED)
    d, hd, f = m["n_embd"], m["head_dim"], m["n_inner"]
    dq, dkv = m["n_head"] * hd, m["n_kv_head"] * hd

    def normal(*shape):
        return torch.empty(*shape).normal_(0.0, 0.02)

    P = {"embed_tokens.weight": normal(m["vocab"], d)}
    for i in range(m["n_layer"]):
        p = "layers.%d." % i
        P[p + "input_layernorm.weight"] = torch.ones(d)
        P[p + "self_attn.q_proj.weight"], P[p + "self_attn.k_proj.weight"] = normal(dq, d), normal(dkv, d)
        P[p + "self_attn.v_proj.weight"], P[p + "self_attn.o_proj.weight"] = normal(dkv, d), normal(d, dq)
        P[p + "post_attention_layernorm.weight"] = torch.ones(d)
        P[p + "mlp.gate_proj.weight"], P[p + "mlp.up_proj.weight"] = normal(f, d), normal(f, d)
        P[p + "mlp.down_proj.weight"] = normal(d, f)
    P["norm.weight"] = torch.ones(d)
    if lora:
        for i in range(m["n_layer"]):
            for part, d_out in (("q_proj", dq), ("v_proj", dkv)):
                p = "layers.%d.self_attn.%s." % (i, part)
                A = torch.empty(LORA_R, d)
                torch.nn.init.kaiming_uniform_(A, a=math.sqrt(5))
                P[p + "lora_A.weight"], P[p + "lora_B.weight"] = A, torch.zeros(d_out, LORA_R)
    return P


def rms_norm(x, w):  # HF LlamaRMSNorm, computed in float32
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + RMS_EPS))


def rope(hd, pos0, T):
    """HF LlamaRotaryEmbedding (default rope_type): cos, sin [T, hd] for positions pos0..pos0+T-1."""
    inv_freq = 1.0 / (ROPE_THETA ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
    freqs = torch.arange(pos0, pos0 + T, dtype=torch.float32)[:, None] * inv_freq[None]  # [T, hd/2]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x):
    x1, x2 = x[..., :x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def repeat_kv(x, n_rep):  # [B, KVH, L, hd] -> [B, KVH * n_rep, L, hd]; query head h uses KV head h // n_rep
    B, KVH, L, hd = x.shape
    if n_rep == 1:
        return x
    return x[:, :, None].expand(B, KVH, n_rep, L, hd).reshape(B, KVH * n_rep, L, hd)


def lora_linear(h, P, name, lora):  # PEFT: base(x) + (alpha/r) * lora_B(lora_A(x))
    y = matmul(h, P[name + ".weight"], True)
    if lora:
        y = y + (LORA_ALPHA / LORA_R) * F.linear(F.linear(h, P[name + ".lora_A.weight"]), P[name + ".lora_B.weight"])
    return y


def llama_block(x, P, i, m, lora, cos, sin, cache=None, pos0=0):
    """x [B, T, d]; cos, sin [T, hd].  cache: (K, V) buffers [B, KVH, max_len, hd] filled at
    pos0..pos0+T-1 with K after RoPE."""
    B, T, d = x.shape
    H, KVH, hd = m["n_head"], m["n_kv_head"], m["head_dim"]
    p = "layers.%d." % i
    h = rms_norm(x, P[p + "input_layernorm.weight"]).reshape(B * T, d)
    q = lora_linear(h, P, p + "self_attn.q_proj", lora).view(B, T, H, hd).transpose(1, 2)  # [B, H, T, hd]
    k = matmul(h, P[p + "self_attn.k_proj.weight"], True).view(B, T, KVH, hd).transpose(1, 2)  # [B, KVH, T, hd]
    v = lora_linear(h, P, p + "self_attn.v_proj", lora).view(B, T, KVH, hd).transpose(1, 2)
    q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
    if cache is not None:
        K, V = cache
        K[:, :, pos0:pos0 + T] = k
        V[:, :, pos0:pos0 + T] = v
        k, v = K[:, :, :pos0 + T], V[:, :, :pos0 + T]
    k, v = repeat_kv(k, H // KVH), repeat_kv(v, H // KVH)
    att = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(hd))
    if T > 1:  # query t (absolute pos0 + t) sees keys 0..pos0 + t
        L = pos0 + T
        mask = torch.ones(T, L, dtype=torch.bool).tril(diagonal=pos0)
        att = att.masked_fill(~mask, float("-inf"))
    y = (att.softmax(dim=-1) @ v).transpose(1, 2).reshape(B * T, H * hd)
    x = x + matmul(y, P[p + "self_attn.o_proj.weight"], True).view(B, T, d)
    h = rms_norm(x, P[p + "post_attention_layernorm.weight"]).reshape(B * T, d)
    h = F.silu(matmul(h, P[p + "mlp.gate_proj.weight"], True)) * matmul(h, P[p + "mlp.up_proj.weight"], True)
    return x + matmul(h, P[p + "mlp.down_proj.weight"], True).view(B, T, d)


def llama_hidden(P, ids, m, lora, caches=None, pos0=0):
    cos, sin = rope(m["head_dim"], pos0, ids.shape[1])  # once per forward, shared by all layers
    x = F.embedding(ids, P["embed_tokens.weight"])
    for i in range(m["n_layer"]):
        x = llama_block(x, P, i, m, lora, cos, sin, None if caches is None else caches[i], pos0)
    return x


def llama_head(P, x):  # x [N, d] -> logits [N, V]: norm, then the lm_head tied to embed_tokens
    return matmul(rms_norm(x, P["norm.weight"]), P["embed_tokens.weight"], True)


# ---------------------------------------------------------------- either family

# model family -> (init params, hidden states before the final norm, final norm + tied lm_head)
ARCH = {"gpt2": (gpt2_params, gpt2_hidden, gpt2_head), "llama": (llama_params, llama_hidden, llama_head)}


def kv_shape(m):  # (KV heads, head dim); without GQA (GPT-2) n_head and n_embd / n_head, as HF LlamaConfig defaults
    return m.get("n_kv_head", m["n_head"]), m.get("head_dim", m["n_embd"] // m["n_head"])


def causal_lm_loss(P, ids, m, lora):
    """Mean cross-entropy of position t predicting ids[:, t+1], t = 0..T-2 (HF labels=input_ids).
    Logits (tied lm_head) are computed only for those B*(T-1) positions."""
    _, hidden, head = ARCH[m["arch"]]
    x = hidden(P, ids, m, lora)
    logits = head(P, x[:, :-1].reshape(-1, m["n_embd"]))
    return F.cross_entropy(logits, ids[:, 1:].reshape(-1))


# ---------------------------------------------------------------- workloads

def autocast():
    """bfloat16 autocast when the parent was given --autocast (passed on in the environment)."""
    if os.environ.get("ANCHOR_AUTOCAST") == "bf16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def run_train(spec, probe):
    m = spec["model"]
    init, _, _ = ARCH[m["arch"]]
    P = init(m, spec["lora"])
    for n, t in P.items():
        t.requires_grad_((".lora_" in n) if spec["lora"] else True)
    params = [t for t in P.values() if t.requires_grad]
    opt = torch.optim.AdamW(params, lr=LR, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    B, T = spec["B"], spec["T"]
    warmup, steps = (PROBE_WARMUP, PROBE_STEPS) if probe else (WARMUP, spec["steps"])
    g = torch.Generator().manual_seed(DATA_SEED)
    times, losses = [], []
    for step in range(warmup + steps):
        ids = torch.randint(0, m["vocab"], (B, T), generator=g)
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        with autocast():
            loss = causal_lm_loss(P, ids, m, spec["lora"])
        loss.backward()
        opt.step()
        dt = time.perf_counter() - t0
        losses.append(float(loss))
        if step >= warmup:
            times.append(dt)
    if not all(math.isfinite(v) for v in losses):
        sys.exit("non-finite loss: %s" % losses)
    med = statistics.median(times)
    return {"tokens_per_s": B * T / med, "step_ms_median": med * 1e3, "step_ms_all": [t * 1e3 for t in times],
            "trainable_params": sum(t.numel() for t in params), "params": sum(t.numel() for t in P.values()),
            "loss_first_last": [losses[0], losses[-1]]}


def generate(P, prompt, n_new, m):
    """Greedy decoding with a KV cache: one prefill forward over the prompt (logits of its
    last position only) gives new token 1; then one single-token forward per new token."""
    _, hidden, head = ARCH[m["arch"]]
    B, T0 = prompt.shape
    kvh, hd = kv_shape(m)
    max_len = T0 + n_new
    caches = [(torch.empty(B, kvh, max_len, hd), torch.empty(B, kvh, max_len, hd)) for _ in range(m["n_layer"])]

    def next_token(x):
        return head(P, x[:, -1]).argmax(dim=-1, keepdim=True)  # [B, 1]

    t0 = time.perf_counter()
    tok = next_token(hidden(P, prompt, m, False, caches, 0))
    t_prefill = time.perf_counter() - t0
    out = [tok]
    for j in range(n_new - 1):
        tok = next_token(hidden(P, tok, m, False, caches, T0 + j))
        out.append(tok)
    t_total = time.perf_counter() - t0
    return torch.cat(out, dim=1), t_prefill, t_total


def run_generate(spec, probe):
    m = spec["model"]
    init, _, _ = ARCH[m["arch"]]
    P = init(m, False)
    g = torch.Generator().manual_seed(DATA_SEED)
    prompt = torch.randint(0, m["vocab"], (1, spec["prompt"]), generator=g)
    warmup, runs = (PROBE_WARMUP, PROBE_STEPS) if probe else (WARMUP, spec["runs"])
    pre, tot, first = [], [], None
    with torch.inference_mode():
        for run in range(warmup + runs):
            toks, tp, tt = generate(P, prompt, spec["new"], m)
            first = toks if first is None else first
            if not torch.equal(toks, first):
                sys.exit("greedy decoding is not deterministic across runs")
            if run >= warmup:
                pre.append(tp)
                tot.append(tt)
    med = statistics.median(tot)
    return {"tokens_per_s": spec["new"] / med, "prefill_tokens_per_s": spec["prompt"] / statistics.median(pre),
            "step_ms_median": med * 1e3, "step_ms_all": [t * 1e3 for t in tot],
            "params": sum(t.numel() for t in P.values()), "trainable_params": 0,
            "first_tokens": toks[0, :8].tolist()}


def child(workload, ob, nt, coretype, probe):
    import_torch(ob, nt, coretype)
    threads, core = openblas_info()
    err = sgemm_rel_error()
    if not err < MAX_SGEMM_REL_ERR:  # also catches NaN
        sys.exit("rejected: OPENBLAS_CORETYPE=%s (core %s): float32 256x384x512 matmul max relative error "
                 "%.2e vs float64 (limit %.0e)" % (coretype, core, err, MAX_SGEMM_REL_ERR))
    spec = SPEC[workload]
    r = run_generate(spec, probe) if workload.endswith("-generate") else run_train(spec, probe)
    r.update(peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
             torch=torch.__version__, openblas_threads=threads, blas_core=core, sgemm_rel_error=err,
             torch_threads=torch.get_num_threads(), autocast=os.environ.get("ANCHOR_AUTOCAST", ""))
    if threads != ob:
        print("warning: OpenBLAS threads = %s, wanted %d (is libblas.so.3 OpenBLAS?)" % (threads, ob),
              file=sys.stderr)
    print(json.dumps(r), flush=True)


# ---------------------------------------------------------------- driver

def parse_setting(s):
    try:
        ob, nt = (int(v) for v in s.split(","))
        assert ob >= 1 and nt >= 1
    except (ValueError, AssertionError):
        raise argparse.ArgumentTypeError("expected OPENBLAS_THREADS,TORCH_THREADS, e.g. 1,2")
    return ob, nt


def run_child(w, setting, coretype, probe):
    """Run one (workload, core type, thread setting) child and log it on stderr; None if it failed."""
    ob, nt = setting
    name = setting_name(ob, nt)
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", w, str(ob), str(nt), coretype,
                           "probe" if probe else "full"], stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        print("# %s %s coretype=%s: child failed (exit %d)" % (w, name, coretype, proc.returncode),
              file=sys.stderr, flush=True)
        return None
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    r.update(setting=name, coretype=coretype)
    print("# %s %s coretype=%s blas_core=%s%s tokens_per_s=%.1f step_ms=%.0f peak_rss_mb=%.0f%s steps_ms=[%s] "
          "params=%d trainable=%d sgemm_rel_err=%.1e load1=%.2f" % (
              w, name, coretype, r["blas_core"], " (probe)" if probe else "", r["tokens_per_s"], r["step_ms_median"],
              r["peak_rss_mb"],
              " prefill_tokens_per_s=%.1f" % r["prefill_tokens_per_s"] if "prefill_tokens_per_s" in r else "",
              " ".join("%.0f" % t for t in r["step_ms_all"]), r["params"], r["trainable_params"],
              r["sgemm_rel_error"], os.getloadavg()[0]), file=sys.stderr, flush=True)
    if coretype != AUTO and r["blas_core"] and r["blas_core"].lower() != coretype.lower():
        print("warning: OPENBLAS_CORETYPE=%s gave core %s" % (coretype, r["blas_core"]), file=sys.stderr)
    return r


def pick_coretype(w, setting):
    """The OPENBLAS_CORETYPE with the most tokens/s on a short run at setting: "auto", or one of the
    CORETYPES the CPU supports (skipping the one autodetection already picks).  None if all failed."""
    auto = run_child(w, setting, AUTO, probe=True)
    runs = [] if auto is None else [auto]
    if auto is not None and auto["blas_core"] is None:
        print("# %s: torch's BLAS is not OpenBLAS; no core-type search" % w, file=sys.stderr)
    else:
        for coretype in cpu_coretypes():
            if auto is None or auto["blas_core"].lower() != coretype.lower():
                runs.append(run_child(w, setting, coretype, probe=True))
    runs = [r for r in runs if r is not None]
    if not runs:
        return None
    best = max(runs, key=lambda r: r["tokens_per_s"])
    print("# %s: coretype=%s (blas_core=%s)" % (w, best["coretype"], best["blas_core"]), file=sys.stderr, flush=True)
    return best["coretype"]


def main():
    ap = argparse.ArgumentParser(description="PyTorch CPU anchor for the Go GPT-2/Llama/LoRA benchmark")
    ap.add_argument("--workload", action="append", choices=WORKLOADS,
                    help="repeatable; default: all (%s)" % ", ".join(WORKLOADS))
    ap.add_argument("--threads-setting", type=parse_setting, metavar="A,B",
                    help="force OPENBLAS_NUM_THREADS=A, torch.set_num_threads(B); default: best of %s"
                    % " ".join("%d,%d" % s for s in SETTINGS))
    ap.add_argument("--coretype", metavar="NAME",
                    help="force OPENBLAS_CORETYPE=NAME (%s: unset, OpenBLAS autodetects); default: the fastest "
                    "of %s and those of %s the CPU supports, on a short run"
                    % (AUTO, AUTO, " ".join(name for name, _ in CORETYPES)))
    ap.add_argument("--autocast", action="store_true",
                    help="train under torch.autocast(\"cpu\", dtype=torch.bfloat16) (the -amx workloads' anchor)")
    ap.add_argument("--json", action="store_true", help="one JSON object per workload on stdout")
    ap.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child[0], int(a.child[1]), int(a.child[2]), a.child[3], a.child[4] == "probe")
        return
    import importlib.util
    if importlib.util.find_spec("torch") is None:
        sys.exit("torch is not importable by %s. Use /usr/bin/python3 after "
                 "`apt-get install -y python3-torch libopenblas0-pthread`." % sys.executable)
    if a.autocast:
        os.environ["ANCHOR_AUTOCAST"] = "bf16"  # the children read it
    workloads = a.workload or WORKLOADS
    settings = [a.threads_setting] if a.threads_setting else SETTINGS
    if "OPENBLAS_CORETYPE" in os.environ:
        print("warning: OPENBLAS_CORETYPE=%s in the environment is ignored; use --coretype"
              % os.environ["OPENBLAS_CORETYPE"], file=sys.stderr)
    load1 = os.getloadavg()[0]
    if load1 >= 0.5:
        print("warning: 1-minute load average is %.2f (>= 0.5); numbers will be noisy" % load1, file=sys.stderr)
    t_start = time.perf_counter()
    failed = False
    for w in workloads:
        coretype = a.coretype or pick_coretype(w, a.threads_setting or PROBE_SETTING)
        runs = [run_child(w, s, coretype, probe=False) for s in settings] if coretype else []
        runs = [r for r in runs if r is not None]
        if not runs:
            failed = True
            continue
        best = max(runs, key=lambda r: r["tokens_per_s"])
        out = {"impl": "torch", "workload": w, "tokens_per_s": round(best["tokens_per_s"], 2)}
        if "prefill_tokens_per_s" in best:
            out["prefill_tokens_per_s"] = round(best["prefill_tokens_per_s"], 2)
        out.update(step_ms_median=round(best["step_ms_median"], 2), peak_rss_mb=round(best["peak_rss_mb"], 1),
                   setting=best["setting"], blas_core=best["blas_core"], torch=best["torch"])
        if best.get("autocast"):
            out["autocast"] = best["autocast"]
        if a.json:
            print(json.dumps(out), flush=True)
        else:
            extra = " prefill_tokens_per_s=%.1f" % out["prefill_tokens_per_s"] if "prefill_tokens_per_s" in out else ""
            print("torch %s tokens_per_s=%.1f step_ms=%.0f peak_rss_mb=%.0f setting=%s blas_core=%s%s" % (
                w, out["tokens_per_s"], out["step_ms_median"], out["peak_rss_mb"], out["setting"], out["blas_core"],
                extra), flush=True)
    print("# all done in %.1f min" % ((time.perf_counter() - t_start) / 60), file=sys.stderr)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
