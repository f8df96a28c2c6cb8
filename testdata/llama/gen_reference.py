#!/usr/bin/python3
"""Golden files for llmtune's Llama and Qwen2 (LlamaForCausalLM, Qwen2ForCausalLM), written
once by PyTorch, in the style of ../gen_reference.py (the GPT-2 one).

    apt-get install -y python3-torch      # Debian's torch (1.13 here); no transformers needed
    cd testdata/llama && /usr/bin/python3 gen_reference.py

Writes testdata/llama/:
  tiny-llama/   config.json + model.safetensors (F32): a tiny Llama-3-style model, HF key names
                (model.embed_tokens.weight, model.layers.{i}.self_attn.{q,k,v,o}_proj.weight, ...,
                model.norm.weight), 2 layers, 4 query heads over 2 KV heads (GQA), head_dim 16,
                rope_scaling llama3, tie_word_embeddings (no lm_head.weight).
  tiny-llama-sharded/   the same tensors in model-00001-of-00002.safetensors (embed_tokens and
                layer 0, plus the buffer model.layers.0.self_attn.rotary_emb.inv_freq that old
                checkpoints carry and loaders must ignore; it holds the plain, unscaled inv_freq,
                so a loader that used it would get the wrong logits) and
                model-00002-of-00002.safetensors (layer 1, model.norm), with
                model.safetensors.index.json as save_pretrained writes it (total_size counts every
                tensor in the shards, the buffer included; weight_map lists the buffer too).
  tiny-qwen2/   config.json + model.safetensors (BF16, rounded to nearest even from the F32 draws):
                a tiny Qwen2, q/k/v biases, 4 query heads over 1 KV head, no head_dim key
                (64/4 = 16), rope_theta 1e6, untied lm_head.weight. Every Qwen2 golden value is
                computed in float32 on the BF16-rounded weights.
  peft-llama-r4/   a PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors, F32) for
                tiny-llama: r 4, alpha 8 on q_proj, v_proj, down_proj; the same A and B as
                llama.lora_init.* below.
  expected.safetensors  F32 tensors of both models, keys prefixed "llama." or "qwen2." (M below):
                M.logits.T{1,7,40}, M.grad.<hf name> for every parameter, M.adamw3.<hf name>
                (parameters after 3 AdamW steps: the subset named in M.adamw.params, to keep the
                file small and to leave out tensors with gradient elements at rounding level;
                the losses before each step cover the rest),
                M.rope.inv_freq, M.rope.cos.T40, M.rope.sin.T40 (positions 0..39, [40, head_dim]),
                M.lora_init.<module>.lora_{A,B}.weight, M.lora_grad.<same>, M.lora_adamw3.<same>,
                M.lora_logits.T7, M.lora_merged.<hf name of the adapted weight>,
                llama.peft_logits.T7 (tiny-llama with peft-llama-r4).
  expected.json         inputs and scalars, keys prefixed the same way: M.config, M.ids.T{1,7,40},
                M.batch, M.loss, M.adamw, M.lora, M.lora_loss, M.lora_adamw_losses, M.greedy,
                M.lora_greedy, M.rope, M.f64_check.

The models are written here from Hugging Face's modeling_llama.py / modeling_qwen2.py /
modeling_rope_utils.py (eager attention path): pre-norm blocks
h = x + o_proj(attn(rms1(x))), out = h + down_proj(silu(gate_proj(rms2(h))) * up_proj(rms2(h))),
RMSNorm x * rsqrt(mean(x^2) + eps) * weight, rotate_half RoPE with inv_freq over head_dim
(llama3 scaling for the Llama), scores * head_dim^-0.5, causal softmax in float32, repeat_kv
(query head h reads KV head h // (n_heads / n_kv_heads)), final model.norm, lm_head (the
embedding when tied). nn.Linear weights are [out, in].

RoPE llama3 bands of tiny-llama (head_dim 16, theta 1e4, factor 8, low/high_freq_factor 1/4,
original_max_position_embeddings 32, so high_freq_wavelen 8 and low_freq_wavelen 32): the 8
wavelengths 2*pi/inv_freq are 6.28 (kept), 19.9 (smoothed, smooth factor 0.2035), 62.8, 199,
628, 1987, 6283, 19869 (divided by 8): all three bands occur (the script asserts it).
Sequences of 40 tokens go past original_max_position_embeddings.

Inputs: the targets of M.batch are already shifted (the label of position t is the token that
should follow it); loss = mean cross-entropy of logits[b, t] against targets[b, t] over the
targets != -100. Row 1 of the batch packs two examples: positions restart at 0 where segment
ids change, and attention is causal and block-diagonal (seg[q] == seg[k]). RoPE sees only
relative positions, so given the block-diagonal mask the restart changes the logits by rounding
only (the script checks both: < 1e-4 without the restart, > 0.1 without the segment mask).

Weights are drawn far larger than an initializer would (q/k/v 0.25, gate/up 0.125, norm weights
1 + N(0, 0.2), ...) so attention is far from uniform and a real bug moves the logits by far more
than the test tolerance. Greedy decoding records the smallest top-1/top-2 logit margin
(asserted > 1e-3) so a near tie can't make the ids ambiguous.

Self-checks (asserts): the llama3 table against Meta's scalar apply_scaling in float64, cos/sin
and the rotation against per-pair float64 math; repeat_kv against a model with the KV heads
copied per query head; each packed example alone against its packed row; the tied head (logits
are hidden @ embed_tokens^T, no lm_head.weight saved, the embedding's gradient is the sum of an
untied copy's embedding and head gradients); merged-weight logits against LoRA logits (1e-5);
the PEFT adapter read back from disk gives the LoRA logits; the sharded and single checkpoints
hold identical tensors; the BF16 file is torch's round-to-nearest-even (checked bitwise); every
file read back. Then every golden value is recomputed in float64 and must agree within
F64_LIMITS (the largest differences are stored as M.f64_check): this is what picked the AdamW
subsets and the LoRA seeds, because Adam divides each gradient element by its own magnitude and
so turns rounding in a near-zero gradient element into a step of up to lr.
CI never runs this script; its outputs are committed.
"""
import json
import math
import os
import struct

import torch
import torch.nn.functional as F

torch.set_num_threads(1)

IGNORE = -100
# The golden values are computed in float32, as HF does on a float32 model. The script then
# recomputes everything in float64 (COMPUTE = torch.float64) and checks that float32's rounding
# stays far inside the tolerances the Go tests use; the differences go into expected.json.
COMPUTE = torch.float32
OUT = os.path.dirname(os.path.abspath(__file__))
TRANSFORMERS_VERSION = "4.45.2"  # the version string written into config.json, as HF does

LLAMA_CFG = {
    "architectures": ["LlamaForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 1,
    "eos_token_id": [2, 3],
    "head_dim": 16,
    "hidden_act": "silu",
    "hidden_size": 64,
    "initializer_range": 0.02,
    "intermediate_size": 96,
    "max_position_embeddings": 256,
    "mlp_bias": False,
    "model_type": "llama",
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "num_key_value_heads": 2,
    "pretraining_tp": 1,
    "rms_norm_eps": 1e-05,
    "rope_scaling": {
        "factor": 8.0,
        "high_freq_factor": 4.0,
        "low_freq_factor": 1.0,
        "original_max_position_embeddings": 32,
        "rope_type": "llama3",
    },
    "rope_theta": 10000.0,
    "tie_word_embeddings": True,
    "torch_dtype": "float32",
    "transformers_version": TRANSFORMERS_VERSION,
    "use_cache": True,
    "vocab_size": 512,
}

QWEN2_CFG = {
    "architectures": ["Qwen2ForCausalLM"],
    "attention_dropout": 0.0,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "hidden_act": "silu",
    "hidden_size": 64,
    "initializer_range": 0.02,
    "intermediate_size": 128,
    "max_position_embeddings": 128,
    "max_window_layers": 2,
    "model_type": "qwen2",
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "num_key_value_heads": 1,
    "rms_norm_eps": 1e-06,
    "rope_scaling": None,
    "rope_theta": 1000000.0,
    "sliding_window": 4096,
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "transformers_version": TRANSFORMERS_VERSION,
    "use_cache": True,
    "use_sliding_window": False,
    "vocab_size": 512,
}

# Seeds of the LoRA draws, chosen (by trying) so that no LoRA gradient element sits at float32
# noise level, where Adam's division by |g| would turn rounding into a 1e-2 step (f64_check).
LORA_SEED = {"llama": 1, "qwen2": 2}
ADAMW = {"lr": 1e-2, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.01}
LORA_R, LORA_ALPHA = 4, 8
LORA_TARGETS = ["q_proj", "v_proj", "down_proj"]


# ---------------------------------------------------------------- shapes and parameters

class Spec:
    def __init__(self, cfg):
        self.cfg = cfg
        self.L = cfg["num_hidden_layers"]
        self.C = cfg["hidden_size"]
        self.NH = cfg["num_attention_heads"]
        self.NKV = cfg["num_key_value_heads"]
        self.HD = cfg.get("head_dim") or self.C // self.NH  # HF: getattr(config, "head_dim", C // NH)
        self.I = cfg["intermediate_size"]
        self.V = cfg["vocab_size"]
        self.eps = cfg["rms_norm_eps"]
        self.qkv_bias = cfg["model_type"] == "qwen2" or cfg.get("attention_bias", False)
        self.tie = cfg["tie_word_embeddings"]
        self.inv_freq = rope_inv_freq(cfg, self.HD)

    def shapes(self):
        """Parameter names and shapes in state_dict order."""
        C, HD, NH, NKV, I = self.C, self.HD, self.NH, self.NKV, self.I
        s = [("model.embed_tokens.weight", (self.V, C))]
        for i in range(self.L):
            p = "model.layers.%d." % i
            for proj, out in (("q", NH * HD), ("k", NKV * HD), ("v", NKV * HD)):
                s.append((p + "self_attn.%s_proj.weight" % proj, (out, C)))
                if self.qkv_bias:
                    s.append((p + "self_attn.%s_proj.bias" % proj, (out,)))
            s.append((p + "self_attn.o_proj.weight", (C, NH * HD)))
            s += [(p + "mlp.gate_proj.weight", (I, C)), (p + "mlp.up_proj.weight", (I, C)),
                  (p + "mlp.down_proj.weight", (C, I)),
                  (p + "input_layernorm.weight", (C,)), (p + "post_attention_layernorm.weight", (C,))]
        s.append(("model.norm.weight", (C,)))
        if not self.tie:
            s.append(("lm_head.weight", (self.V, C)))
        return s


STD = {"embed_tokens": 0.1, "q_proj": 0.25, "k_proj": 0.25, "v_proj": 0.25, "o_proj": 0.1,
       "gate_proj": 0.125, "up_proj": 0.125, "down_proj": 0.08, "lm_head": 0.1}


def init_params(spec):
    P_ = {}
    for name, shape in spec.shapes():
        if name.endswith("layernorm.weight") or name == "model.norm.weight":
            P_[name] = 1 + torch.randn(*shape) * 0.2
        elif name.endswith(".bias"):
            P_[name] = torch.randn(*shape) * 0.2
        else:
            P_[name] = torch.randn(*shape) * STD[name.split(".")[-2]]
    return P_


# ---------------------------------------------------------------- RoPE (modeling_rope_utils.py)

def rope_inv_freq(cfg, dim):
    """_compute_default_rope_parameters, then _compute_llama3_parameters when rope_scaling says so."""
    base = cfg["rope_theta"]
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    rs = cfg.get("rope_scaling")
    if not rs:
        return inv_freq
    assert rs["rope_type"] == "llama3"
    factor = rs["factor"]
    low_freq_factor = rs["low_freq_factor"]
    high_freq_factor = rs["high_freq_factor"]
    old_context_len = rs["original_max_position_embeddings"]
    low_freq_wavelen = old_context_len / low_freq_factor
    high_freq_wavelen = old_context_len / high_freq_factor
    wavelen = 2 * math.pi / inv_freq
    inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth_factor = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
    smoothed_inv_freq = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
    is_medium_freq = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    return torch.where(is_medium_freq, smoothed_inv_freq, inv_freq_llama)


def llama3_direct(cfg, dim):
    """The same table the way Meta's llama-models apply_scaling writes it: a scalar loop in
    float64, for the self-check. Returns (inv_freq, bands)."""
    rs = cfg["rope_scaling"]
    old, lo, hi, factor = rs["original_max_position_embeddings"], rs["low_freq_factor"], rs["high_freq_factor"], rs["factor"]
    out, bands = [], []
    for j in range(0, dim, 2):
        f = 1.0 / cfg["rope_theta"] ** (j / dim)
        wl = 2 * math.pi / f
        if wl < old / hi:
            out.append(f), bands.append("kept")
        elif wl > old / lo:
            out.append(f / factor), bands.append("divided")
        else:
            s = (old / wl - lo) / (hi - lo)
            out.append((1 - s) * f / factor + s * f), bands.append("smoothed")
    return out, bands


def rope_cos_sin(inv_freq, pos):
    """LlamaRotaryEmbedding.forward: pos LongTensor [B, T] -> cos, sin [B, T, head_dim]."""
    inv_freq_expanded = inv_freq[None, :, None].to(COMPUTE).expand(pos.shape[0], -1, 1)
    position_ids_expanded = pos[:, None, :].to(COMPUTE)
    freqs = (inv_freq_expanded @ position_ids_expanded).transpose(1, 2)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()  # attention_scaling is 1.0 for default and llama3


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def apply_rope(x, cos, sin):  # x [B, H, T, hd], cos/sin [B, T, hd] (unsqueeze_dim=1)
    return (x * cos[:, None]) + (rotate_half(x) * sin[:, None])


# ---------------------------------------------------------------- model

def rms_norm(x, w, eps):  # LlamaRMSNorm / Qwen2RMSNorm, all float32 here
    variance = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(variance + eps))


def repeat_kv(h, n_rep):  # [B, NKV, T, hd] -> [B, NKV * n_rep, T, hd]
    b, nkv, t, hd = h.shape
    if n_rep == 1:
        return h
    return h[:, :, None, :, :].expand(b, nkv, n_rep, t, hd).reshape(b, nkv * n_rep, t, hd)


def linear(x, P_, name, lora=None):
    """nn.Linear (bias if the checkpoint has one), plus PEFT's LoRA delta:
    lora maps an HF module name to (A [r, in], B [out, r], scaling): + lora_B(lora_A(x)) * scaling."""
    y = F.linear(x, P_[name + ".weight"], P_.get(name + ".bias"))
    if lora and name in lora:
        A, B, s = lora[name]
        y = y + F.linear(F.linear(x, A), B) * s
    return y


def hidden(spec, P_, ids, pos=None, seg=None, lora=None):
    """ids, pos, seg: LongTensor [B, T]. Returns model.norm output [B, T, C]."""
    B, T = ids.shape
    if pos is None:
        pos = torch.arange(T).expand(B, T)
    mask = torch.ones(T, T, dtype=torch.bool).tril()[None].expand(B, T, T)
    if seg is not None:
        mask = mask & (seg[:, :, None] == seg[:, None, :])
    cos, sin = rope_cos_sin(spec.inv_freq, pos)
    HD, NH, NKV = spec.HD, spec.NH, spec.NKV
    x = P_["model.embed_tokens.weight"][ids]
    for i in range(spec.L):
        p = "model.layers.%d." % i
        h = rms_norm(x, P_[p + "input_layernorm.weight"], spec.eps)
        q = linear(h, P_, p + "self_attn.q_proj", lora).view(B, T, NH, HD).transpose(1, 2)
        k = linear(h, P_, p + "self_attn.k_proj", lora).view(B, T, NKV, HD).transpose(1, 2)
        v = linear(h, P_, p + "self_attn.v_proj", lora).view(B, T, NKV, HD).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        k, v = repeat_kv(k, NH // NKV), repeat_kv(v, NH // NKV)
        att = torch.matmul(q, k.transpose(2, 3)) * HD ** -0.5
        att = att.masked_fill(~mask[:, None], float("-inf"))
        att = F.softmax(att, dim=-1, dtype=COMPUTE)  # HF: dtype=torch.float32
        y = torch.matmul(att, v).transpose(1, 2).reshape(B, T, NH * HD)
        x = x + linear(y, P_, p + "self_attn.o_proj", lora)
        h = rms_norm(x, P_[p + "post_attention_layernorm.weight"], spec.eps)
        m = F.silu(linear(h, P_, p + "mlp.gate_proj", lora)) * linear(h, P_, p + "mlp.up_proj", lora)
        x = x + linear(m, P_, p + "mlp.down_proj", lora)
    return rms_norm(x, P_["model.norm.weight"], spec.eps)


def head_weight(spec, P_):
    return P_["model.embed_tokens.weight"] if spec.tie else P_["lm_head.weight"]


def logits_of(spec, P_, ids, **kw):
    return F.linear(hidden(spec, P_, ids, **kw), head_weight(spec, P_))


def loss_of(spec, P_, batch, lora=None):
    lg = logits_of(spec, P_, batch["ids"], pos=batch["pos"], seg=batch["seg"], lora=lora)
    return F.cross_entropy(lg.reshape(-1, spec.V), batch["targets"].reshape(-1), ignore_index=IGNORE)


def greedy(spec, P_, prompt, n, lora=None):
    """n new tokens, a full forward each step, argmax with the lowest id on ties. Also returns
    the smallest margin between the best and second-best logit over the steps."""
    seq, margin = list(prompt), float("inf")
    with torch.no_grad():
        for _ in range(n):
            lg = logits_of(spec, P_, torch.tensor([seq]), lora=lora)[0, -1]
            best = int((lg == lg.max()).nonzero()[0, 0])
            top2 = lg.topk(2).values
            margin = min(margin, float(top2[0] - top2[1]))
            seq.append(best)
    return seq[len(prompt):], margin


# ---------------------------------------------------------------- files

DTYPES = {torch.float32: "F32", torch.bfloat16: "BF16", torch.float16: "F16", torch.uint8: "U8"}


def tensor_bytes(t):
    t = t.detach().contiguous()
    if t.dtype in (torch.bfloat16, torch.float16):
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def save_safetensors(path, tensors):
    """The safetensors format, written by hand: u64 header size, JSON header, data."""
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name]
        b = tensor_bytes(t)
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    """Reads a safetensors file back (checks the header and offsets as it goes)."""
    codes = {v: k for k, v in DTYPES.items()}
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    out, end = {}, 0
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0] if kv[0] != "__metadata__" else -1):
        if name == "__metadata__":
            assert info == {"format": "pt"}, info
            continue
        lo, hi = info["data_offsets"]
        assert lo == end, (path, name)
        end = hi
        dt = codes[info["dtype"]]
        t = torch.frombuffer(bytearray(body[lo:hi]), dtype=dt).reshape(info["shape"])
        assert t.numel() * t.element_size() == hi - lo
        out[name] = t
    assert end == len(body), path
    return out


def write_json(path, obj, trailing_newline=True):
    """As save_pretrained: json.dumps(indent=2, sort_keys=True) (+ "\\n" for config and index)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(json.dumps(obj, indent=2, sort_keys=True) + ("\n" if trailing_newline else ""))


def peft_config(base):
    """adapter_config.json as PEFT 0.13 writes it for a Llama (json sorted, no trailing newline)."""
    return {
        "alpha_pattern": {}, "auto_mapping": None, "base_model_name_or_path": base,
        "bias": "none", "fan_in_fan_out": False, "inference_mode": True, "init_lora_weights": True,
        "layer_replication": None, "layers_pattern": None, "layers_to_transform": None,
        "loftq_config": {}, "lora_alpha": LORA_ALPHA, "lora_dropout": 0.0, "megatron_config": None,
        "megatron_core": "megatron.core", "modules_to_save": None, "peft_type": "LORA", "r": LORA_R,
        "rank_pattern": {}, "revision": None, "target_modules": list(LORA_TARGETS),
        "task_type": "CAUSAL_LM", "use_dora": False, "use_rslora": False,
    }


# ---------------------------------------------------------------- goldens of one model

def adamw(params):
    return torch.optim.AdamW(params, lr=ADAMW["lr"], betas=tuple(ADAMW["betas"]), eps=ADAMW["eps"],
                             weight_decay=ADAMW["weight_decay"])


def run_adamw(spec, P_, batch, train, lora_fn=None):
    """3 AdamW steps on the tensors of train; returns the losses before each step and after."""
    opt = adamw(list(train.values()))
    losses = []
    for _ in range(3):
        opt.zero_grad()
        loss = loss_of(spec, P_, batch, lora=lora_fn() if lora_fn else None)
        losses.append(loss.item())
        loss.backward()
        opt.step()
    with torch.no_grad():
        losses.append(loss_of(spec, P_, batch, lora=lora_fn() if lora_fn else None).item())
    return losses


def make_inputs(V):
    g = torch.Generator().manual_seed(7)
    ids = {T: torch.randint(0, V, (1, T), generator=g) for T in (1, 7, 40)}
    # The training batch: 2 rows of 24. Row 0 is one example whose first 6 targets are masked
    # (a prompt) and whose last 3 tokens are padding (targets masked). Row 1 packs two examples
    # of 15 and 9 tokens: positions restart at 0, segment ids 0 then 1, the first example's last
    # target is masked and so are the first 2 targets (prompt) of the second.
    B, T = 2, 24
    bids = torch.randint(0, V, (B, T), generator=g)
    targets = torch.randint(0, V, (B, T), generator=g)
    targets[0, :6] = IGNORE
    targets[0, -3:] = IGNORE
    targets[1, 14] = IGNORE
    targets[1, 15:17] = IGNORE
    pos = torch.arange(T).repeat(B, 1)
    seg = torch.zeros(B, T, dtype=torch.long)
    pos[1, 15:] = torch.arange(9)
    seg[1, 15:] = 1
    return ids, dict(ids=bids, targets=targets, pos=pos, seg=seg)


def goldens(M, spec, P_, adamw_keep, expected, meta):
    """All golden values of one model (P_ the weights the Go side will see, in float32; float64
    for the cross-check)."""
    pre = M + "."
    ids, batch = make_inputs(spec.V)
    meta[pre + "config"] = spec.cfg
    for T, t in ids.items():
        meta[pre + "ids.T%d" % T] = t[0].tolist()
    meta[pre + "batch"] = {k: v.tolist() for k, v in batch.items()}

    # RoPE tables.
    pos40 = torch.arange(40)[None]
    cos, sin = rope_cos_sin(spec.inv_freq, pos40)
    expected[pre + "rope.inv_freq"] = spec.inv_freq
    expected[pre + "rope.cos.T40"], expected[pre + "rope.sin.T40"] = cos[0], sin[0]
    rope_meta = {"head_dim": spec.HD, "theta": spec.cfg["rope_theta"], "inv_freq": spec.inv_freq.tolist()}
    direct64 = [(1.0 / spec.cfg["rope_theta"] ** (j / spec.HD)) for j in range(0, spec.HD, 2)]
    if spec.cfg.get("rope_scaling"):
        direct64, bands = llama3_direct(spec.cfg, spec.HD)
        assert set(bands) == {"kept", "smoothed", "divided"}, bands
        rope_meta["bands"] = bands
        rs = spec.cfg["rope_scaling"]
        rope_meta["smooth_factor"] = [
            (rs["original_max_position_embeddings"] * f / (2 * math.pi) - rs["low_freq_factor"])
            / (rs["high_freq_factor"] - rs["low_freq_factor"]) if b == "smoothed" else None
            for b, f in zip(bands, (1.0 / spec.cfg["rope_theta"] ** (j / spec.HD) for j in range(0, spec.HD, 2)))]
        rope_meta["wavelen"] = [2 * math.pi / f for f in
                                (1.0 / spec.cfg["rope_theta"] ** (j / spec.HD) for j in range(0, spec.HD, 2))]
    assert torch.allclose(spec.inv_freq.double(), torch.tensor(direct64, dtype=torch.float64), rtol=1e-6, atol=0), \
        (spec.inv_freq, direct64)
    # cos/sin and the rotation against a direct per-pair computation in float64.
    for t in range(40):
        for j in range(spec.HD // 2):
            a = t * direct64[j]
            assert abs(cos[0, t, j] - math.cos(a)) < 1e-5 and abs(cos[0, t, j + spec.HD // 2] - math.cos(a)) < 1e-5
            assert abs(sin[0, t, j] - math.sin(a)) < 1e-5 and abs(sin[0, t, j + spec.HD // 2] - math.sin(a)) < 1e-5
    x = torch.randn(1, 1, 40, spec.HD, generator=torch.Generator().manual_seed(3)).to(COMPUTE)
    rx = apply_rope(x, cos, sin)
    h2 = spec.HD // 2
    for t in (0, 1, 17, 39):
        for j in range(h2):
            a = t * direct64[j]
            x1, x2 = float(x[0, 0, t, j]), float(x[0, 0, t, j + h2])
            assert abs(rx[0, 0, t, j] - (x1 * math.cos(a) - x2 * math.sin(a))) < 1e-5
            assert abs(rx[0, 0, t, j + h2] - (x2 * math.cos(a) + x1 * math.sin(a))) < 1e-5
    meta[pre + "rope"] = rope_meta

    # Logits of single sequences.
    with torch.no_grad():
        for T, t in ids.items():
            expected[pre + "logits.T%d" % T] = logits_of(spec, P_, t)[0]
        # GQA: repeat_kv matches an index-based head map h -> h // n_rep (checked by rebuilding
        # k/v weights per query head and running a model with NKV = NH).
        if spec.NKV != spec.NH:
            rep, full = spec.NH // spec.NKV, dict(P_)
            for i in range(spec.L):
                for proj in ("k", "v"):
                    for suf in ("weight", "bias"):
                        n = "model.layers.%d.self_attn.%s_proj.%s" % (i, proj, suf)
                        if n in P_:
                            w = P_[n].view(spec.NKV, spec.HD, *P_[n].shape[1:])
                            full[n] = torch.stack([w[h // rep] for h in range(spec.NH)]).reshape(
                                spec.NH * spec.HD, *P_[n].shape[1:])
            mha = Spec(dict(spec.cfg, num_key_value_heads=spec.NH))
            assert torch.allclose(logits_of(mha, full, ids[40]), expected[pre + "logits.T40"], atol=1e-5)
        # Packing: each packed example alone gives the same logits as in the packed row.
        lg = logits_of(spec, P_, batch["ids"], pos=batch["pos"], seg=batch["seg"])
        assert torch.allclose(lg[1, :15], logits_of(spec, P_, batch["ids"][1:, :15])[0], atol=1e-5)
        assert torch.allclose(lg[1, 15:], logits_of(spec, P_, batch["ids"][1:, 15:])[0], atol=1e-5)
        assert torch.allclose(lg[0], logits_of(spec, P_, batch["ids"][:1])[0], atol=1e-5)
        # RoPE sees only relative positions, so with the block-diagonal mask the restart of the
        # positions changes nothing but rounding; the segment ids are what matter.
        lg2 = logits_of(spec, P_, batch["ids"], seg=batch["seg"])
        assert (lg2[1] - lg[1]).abs().max() < 1e-4
        lg3 = logits_of(spec, P_, batch["ids"], pos=batch["pos"])
        assert (lg3[1, 15:] - lg[1, 15:]).abs().max() > 0.1

    # Loss and the gradient of every parameter.
    params = {k: v.clone().requires_grad_(True) for k, v in P_.items()}
    loss = loss_of(spec, params, batch)
    loss.backward()
    meta[pre + "loss"] = loss.item()
    for k, v in params.items():
        expected[pre + "grad." + k] = v.grad
    if spec.tie:
        # Tied head: the embedding's gradient is the sum of what an untied copy would get as
        # embedding and as lm_head, and the logits are hidden @ embed_tokens^T.
        un = {k: v.clone().requires_grad_(True) for k, v in P_.items()}
        un["lm_head.weight"] = P_["model.embed_tokens.weight"].clone().requires_grad_(True)
        uspec = Spec(dict(spec.cfg, tie_word_embeddings=False))
        l2 = loss_of(uspec, un, batch)
        l2.backward()
        assert abs(l2.item() - loss.item()) < 1e-6
        gsum = un["model.embed_tokens.weight"].grad + un["lm_head.weight"].grad
        assert torch.allclose(gsum, expected[pre + "grad.model.embed_tokens.weight"], atol=1e-6)
        assert un["lm_head.weight"].grad.abs().max() > 1e-3
        with torch.no_grad():
            h = hidden(spec, P_, ids[7])
            assert torch.allclose(h @ P_["model.embed_tokens.weight"].t(), expected[pre + "logits.T7"][None],
                                  atol=1e-6, rtol=0)

    # AdamW on every parameter.
    params = {k: v.clone().requires_grad_(True) for k, v in P_.items()}
    losses = run_adamw(spec, params, batch, params)
    meta[pre + "adamw"] = dict(ADAMW, losses=losses, params=list(adamw_keep))
    for k in adamw_keep:
        expected[pre + "adamw3." + k] = params[k].detach()

    # Greedy decoding without the adapter.
    gids, margin = greedy(spec, P_, meta[pre + "ids.T7"], 16)
    meta[pre + "greedy"] = {"prompt": meta[pre + "ids.T7"], "ids": gids, "min_margin": margin}

    lora_goldens(M, spec, P_, ids, batch, expected, meta)


def lora_modules(spec):
    """(HF module name, in, out) of every adapted projection, in layer order."""
    mods = []
    for i in range(spec.L):
        p = "model.layers.%d." % i
        mods += [(p + "self_attn.q_proj", spec.C, spec.NH * spec.HD),
                 (p + "self_attn.v_proj", spec.C, spec.NKV * spec.HD),
                 (p + "mlp.down_proj", spec.I, spec.C)]
    return mods


def kaiming_a(r, fan_in, g):
    """PEFT's lora_A init, nn.init.kaiming_uniform_(A, a=sqrt(5)): U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    (written out because torch 1.13's init functions take no generator)."""
    gain = math.sqrt(2.0 / (1 + 5))
    bound = math.sqrt(3.0) * gain / math.sqrt(fan_in)
    return torch.empty(r, fan_in).uniform_(-bound, bound, generator=g)


def lora_goldens(M, spec, P_, ids, batch, expected, meta):
    """LoRA r=4, alpha=8 (scaling 2) on q_proj, v_proj and mlp.down_proj of every layer; A
    kaiming-uniform as PEFT, B random and non-zero (PEFT starts B at zero) so that A gets a
    gradient and the delta moves the logits."""
    pre = M + "."
    s = LORA_ALPHA / LORA_R
    g, dt = torch.Generator().manual_seed(LORA_SEED[M]), P_["model.norm.weight"].dtype
    init = {}
    for mod, fin, fout in lora_modules(spec):
        A = kaiming_a(LORA_R, fin, g)
        assert A.abs().max() <= 1 / math.sqrt(fin)
        init[mod + ".lora_A.weight"] = A.to(dt)
        init[mod + ".lora_B.weight"] = (torch.randn(fout, LORA_R, generator=g) * 0.1).to(dt)
    for k, v in init.items():
        expected[pre + "lora_init." + k] = v
    meta[pre + "lora"] = {"r": LORA_R, "alpha": LORA_ALPHA, "scaling": s, "target_modules": LORA_TARGETS,
                          "modules": [m for m, _, _ in lora_modules(spec)]}

    def lora_of(W):
        return {mod: (W[mod + ".lora_A.weight"], W[mod + ".lora_B.weight"], s) for mod, _, _ in lora_modules(spec)}

    with torch.no_grad():
        expected[pre + "lora_logits.T7"] = logits_of(spec, P_, ids[7], lora=lora_of(init))[0]
        lora40 = logits_of(spec, P_, ids[40], lora=lora_of(init))[0]
        d = (expected[pre + "lora_logits.T7"] - expected[pre + "logits.T7"]).abs().max()
        assert d > 0.05, d
        # Merged: W [out, in] += scaling * B @ A; the merged model alone gives the same logits.
        merged = dict(P_)
        for mod, _, _ in lora_modules(spec):
            W = P_[mod + ".weight"] + s * (init[mod + ".lora_B.weight"] @ init[mod + ".lora_A.weight"])
            merged[mod + ".weight"] = W
            expected[pre + "lora_merged." + mod + ".weight"] = W
        assert torch.allclose(logits_of(spec, merged, ids[7]), expected[pre + "lora_logits.T7"], atol=1e-5)
        assert torch.allclose(logits_of(spec, merged, ids[40]), lora40, atol=1e-5)

    gids, margin = greedy(spec, P_, meta[pre + "ids.T7"], 16, lora=lora_of(init))
    meta[pre + "lora_greedy"] = {"prompt": meta[pre + "ids.T7"], "ids": gids, "min_margin": margin}

    W = {k: v.clone().requires_grad_(True) for k, v in init.items()}
    loss = loss_of(spec, P_, batch, lora=lora_of(W))
    loss.backward()
    meta[pre + "lora_loss"] = loss.item()
    for k, v in W.items():
        assert v.grad.abs().max() > 1e-4, k
        expected[pre + "lora_grad." + k] = v.grad

    W = {k: v.clone().requires_grad_(True) for k, v in init.items()}
    meta[pre + "lora_adamw_losses"] = run_adamw(spec, P_, batch, W, lambda: lora_of(W))
    for k, v in W.items():
        expected[pre + "lora_adamw3." + k] = v.detach()
    return init


# ---------------------------------------------------------------- float64 cross-check

# The largest float32-vs-float64 differences the script accepts, each well inside the Go tests'
# tolerances (logits 2e-5 abs, losses 1e-5 abs, gradients 1e-4 and AdamW weights 1e-3 relative
# to the tensor's largest |value|).
F64_LIMITS = {"logits": 1e-5, "loss": 1e-6, "grad_rel": 2e-5, "adamw_losses": 5e-6, "adamw3_rel": 2e-4,
              "lora_merged_rel": 1e-6, "rope": 1e-6}


def goldens_checked(M, spec, P_, keep, expected, meta):
    """goldens() in float32 (kept) and again in float64 (compared, then dropped)."""
    global COMPUTE
    goldens(M, spec, P_, keep, expected, meta)
    e64, m64 = {}, {}
    COMPUTE = torch.float64
    try:
        goldens(M, spec, {k: v.double() for k, v in P_.items()}, keep, e64, m64)
    finally:
        COMPUTE = torch.float32
    pre = M + "."
    assert sorted(e64) == sorted(k for k in expected if k.startswith(pre))
    d, worst = {k: 0.0 for k in F64_LIMITS}, {}
    for k, v64 in e64.items():
        v = expected[k].double()
        ab = (v - v64).abs().max().item()
        rel = ab / v64.abs().max().item()
        kind = k[len(pre):].split(".")[0]
        slot = {"logits": "logits", "lora_logits": "logits", "grad": "grad_rel", "lora_grad": "grad_rel",
                "adamw3": "adamw3_rel", "lora_adamw3": "adamw3_rel", "lora_merged": "lora_merged_rel",
                "rope": "rope", "lora_init": None}[kind]
        if slot:
            x = rel if slot.endswith("_rel") else ab
            if x > d[slot]:
                d[slot], worst[slot] = x, k

    for k in ("loss", "lora_loss"):
        d["loss"] = max(d["loss"], abs(meta[pre + k] - m64[pre + k]))
    for a, b in ((meta[pre + "adamw"]["losses"], m64[pre + "adamw"]["losses"]),
                 (meta[pre + "lora_adamw_losses"], m64[pre + "lora_adamw_losses"])):
        d["adamw_losses"] = max(d["adamw_losses"], max(abs(x - y) for x, y in zip(a, b)))
    for k in ("greedy", "lora_greedy"):
        assert meta[pre + k]["ids"] == m64[pre + k]["ids"], (M, k)
        assert meta[pre + k]["min_margin"] > 1e-3, (M, k, meta[pre + k]["min_margin"])
    print("%s float32 vs float64: %s" % (M, "  ".join("%s %.2g" % kv for kv in d.items())))
    bad = {k: v for k, v in d.items() if v > F64_LIMITS[k]}
    assert not bad, (M, bad, worst)
    meta[pre + "f64_check"] = d


# ---------------------------------------------------------------- main

def save_model(dirname, cfg, tensors):
    write_json(os.path.join(dirname, "config.json"), cfg)
    save_safetensors(os.path.join(dirname, "model.safetensors"), tensors)


def main():
    expected, meta = {}, {}

    # ---- Llama
    torch.manual_seed(20261201)
    ls = Spec(LLAMA_CFG)
    P_ = init_params(ls)
    save_model(os.path.join(OUT, "tiny-llama"), LLAMA_CFG, P_)
    # Sharded: embed_tokens + layer 0 (+ the old inv_freq buffer, unscaled) | layer 1 + norm.
    sdir = os.path.join(OUT, "tiny-llama-sharded")
    inv_buf = "model.layers.0.self_attn.rotary_emb.inv_freq"
    plain_inv = 1.0 / (LLAMA_CFG["rope_theta"] ** (torch.arange(0, ls.HD, 2, dtype=torch.int64).float() / ls.HD))
    assert not torch.allclose(plain_inv, ls.inv_freq)
    shards = [{k: v for k, v in P_.items() if k.startswith("model.embed_tokens.") or k.startswith("model.layers.0.")},
              {k: v for k, v in P_.items() if k.startswith("model.layers.1.") or k == "model.norm.weight"}]
    shards[0][inv_buf] = plain_inv
    assert sum(len(s) for s in shards) == len(P_) + 1
    weight_map, total = {}, 0
    for n, sh in enumerate(shards):
        fname = "model-%05d-of-%05d.safetensors" % (n + 1, len(shards))
        save_safetensors(os.path.join(sdir, fname), sh)
        for k, v in sh.items():
            weight_map[k] = fname
            total += v.numel() * v.element_size()
    write_json(os.path.join(sdir, "model.safetensors.index.json"),
               {"metadata": {"total_size": total}, "weight_map": weight_map})
    write_json(os.path.join(sdir, "config.json"), LLAMA_CFG)
    # Self-check: the sharded and single checkpoints hold the same tensors (the buffer aside).
    single = load_safetensors(os.path.join(OUT, "tiny-llama", "model.safetensors"))
    both = {}
    for n in range(len(shards)):
        both.update(load_safetensors(os.path.join(sdir, "model-%05d-of-%05d.safetensors" % (n + 1, len(shards)))))
    assert torch.equal(both.pop(inv_buf), plain_inv)
    assert sorted(both) == sorted(single) == sorted(P_)
    for k in P_:
        assert torch.equal(both[k], single[k]) and torch.equal(single[k], P_[k]), k
    assert "lm_head.weight" not in single

    # AdamW results are kept for a subset (file size). Not the embedding: 42 of its gradient
    # elements are under 1e-6 (rows of tokens in no input get only the tied head's tiny
    # gradient), where Adam turns float32 rounding into up to a 1e-2 step (f64_check).
    llama_keep = ["model.layers.0.input_layernorm.weight",
                  "model.layers.0.self_attn.q_proj.weight", "model.layers.1.self_attn.k_proj.weight",
                  "model.layers.1.self_attn.v_proj.weight", "model.layers.1.self_attn.o_proj.weight",
                  "model.layers.0.mlp.gate_proj.weight", "model.layers.1.post_attention_layernorm.weight",
                  "model.norm.weight"]
    goldens_checked("llama", ls, P_, llama_keep, expected, meta)

    # PEFT adapter with the same A and B; its logits on the 7-token prompt, read back from disk.
    init = {k[len("llama.lora_init."):]: v for k, v in expected.items() if k.startswith("llama.lora_init.")}
    pdir = os.path.join(OUT, "peft-llama-r4")
    write_json(os.path.join(pdir, "adapter_config.json"), peft_config("tiny-llama"), trailing_newline=False)
    save_safetensors(os.path.join(pdir, "adapter_model.safetensors"),
                     {"base_model.model." + k: v for k, v in init.items()})
    back = load_safetensors(os.path.join(pdir, "adapter_model.safetensors"))
    assert len(back) == 2 * len(LORA_TARGETS) * ls.L
    lora = {}
    for k, v in back.items():
        mod, part = k[len("base_model.model."):].rsplit(".lora_", 1)
        assert any(mod.endswith("." + t) for t in LORA_TARGETS), k
        A, B = lora.get(mod, (None, None))
        lora[mod] = (v, B) if part == "A.weight" else (A, v)
    lora = {m: (A, B, LORA_ALPHA / LORA_R) for m, (A, B) in lora.items()}
    with torch.no_grad():
        expected["llama.peft_logits.T7"] = logits_of(ls, single, torch.tensor([meta["llama.ids.T7"]]), lora=lora)[0]
    assert torch.allclose(expected["llama.peft_logits.T7"], expected["llama.lora_logits.T7"], atol=1e-6)

    # ---- Qwen2: BF16 checkpoint, goldens on the rounded weights in float32.
    torch.manual_seed(20261202)
    qs = Spec(QWEN2_CFG)
    assert qs.HD == 16 and "head_dim" not in QWEN2_CFG
    Q32 = init_params(qs)
    Qbf = {k: v.to(torch.bfloat16) for k, v in Q32.items()}
    save_model(os.path.join(OUT, "tiny-qwen2"), QWEN2_CFG, Qbf)
    back = load_safetensors(os.path.join(OUT, "tiny-qwen2", "model.safetensors"))
    assert sorted(back) == sorted(Qbf) and all(torch.equal(back[k], Qbf[k]) for k in Qbf)
    Q = {k: v.float() for k, v in Qbf.items()}
    # Round-to-nearest-even check on one tensor, against the bit arithmetic.
    u = Q32["lm_head.weight"].view(torch.int32).long() & 0xFFFFFFFF
    rne = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) & 0xFFFF
    assert torch.equal(rne, Qbf["lm_head.weight"].view(torch.int16).long() & 0xFFFF)
    # Not k_proj.bias: RoPE barely turns the low-frequency dims over 24 positions, so there a key
    # bias adds about the same to every score of a query, which softmax ignores: those gradient
    # elements are ~1e-6..1e-8 (see qwen2.grad.*.k_proj.bias) and Adam amplifies their rounding.
    qwen_keep = ["model.layers.0.self_attn.q_proj.bias",
                 "model.layers.0.self_attn.v_proj.bias", "model.layers.1.self_attn.k_proj.weight",
                 "model.layers.1.self_attn.q_proj.weight", "model.layers.0.self_attn.o_proj.weight",
                 "model.layers.1.mlp.down_proj.weight", "model.layers.0.input_layernorm.weight",
                 "model.norm.weight"]
    goldens_checked("qwen2", qs, Q, qwen_keep, expected, meta)

    save_safetensors(os.path.join(OUT, "expected.safetensors"), expected)
    back = load_safetensors(os.path.join(OUT, "expected.safetensors"))
    assert sorted(back) == sorted(expected) and all(torch.equal(back[k], expected[k].float()) for k in expected)
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(meta, f)
    for M in ("llama", "qwen2"):
        print("%s: loss %.6f  adamw %s  lora loss %.6f  lora adamw %s  greedy margin %.3g / %.3g" % (
            M, meta[M + ".loss"], " ".join("%.4f" % l for l in meta[M + ".adamw"]["losses"]),
            meta[M + ".lora_loss"], " ".join("%.4f" % l for l in meta[M + ".lora_adamw_losses"]),
            meta[M + ".greedy"]["min_margin"], meta[M + ".lora_greedy"]["min_margin"]))


if __name__ == "__main__":
    main()
