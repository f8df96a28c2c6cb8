#!/usr/bin/python3
"""Golden files for llmtune's Go tests, written once by PyTorch (llm.c style).

    apt-get install -y python3-torch      # Debian's torch (1.13 here)
    cd testdata && /usr/bin/python3 gen_reference.py

Writes testdata/reference/:
  tiny-f32/   config.json + model.safetensors: a tiny GPT-2 in Hugging Face layout, F32,
              keys with the "transformer." prefix (as save_pretrained writes them).
  tiny-bf16/  the same weights rounded to BF16, hub style: no prefix, h.{i}.attn.bias and
              attn.masked_bias buffers, and an lm_head.weight (tied: equal to wte).
  expected.safetensors  F32 tensors: logits.T{1,7,33} (F32 model), logits_bf16.T33 (the
              model on the BF16-rounded weights), grad.<name> for every parameter.
              lora_*: LoRA r=4, alpha=8 on q and v (initial A and B, logits, merged c_attn
              weights, the gradient of every lora_A/lora_B, weights after 3 AdamW steps);
              peft_*_logits.T33: the model with each PEFT adapter below.
  peft-r3/, peft-r2-rslora/   PEFT-format LoRA adapters (adapter_config.json +
              adapter_model.safetensors) on the fused c_attn (and mlp.c_proj), as PEFT writes them.
  expected.json         the inputs (ids, batch) and scalars: loss, AdamW losses, LoRA loss,
              LoRA AdamW losses, LoRA greedy generation ids, GELU samples.

The model is a minimal GPT-2 written here against Hugging Face's modeling_gpt2.py
semantics (pre-LN blocks, Conv1D weights [in, out], c_attn columns [q|k|v] with heads as
contiguous blocks, scores / sqrt(head_dim), gelu_new = tanh GELU, LayerNorm eps 1e-5 with
biased variance, lm_head tied to wte). Weights are drawn larger than GPT-2's 0.02 (c_attn
0.25, c_fc 0.125, LayerNorm weights and biases perturbed) so that attention is far from
uniform and a real bug moves the logits by far more than the test tolerance.
CI never runs this script; its outputs are committed.
"""
import json
import math
import os
import struct

import torch
import torch.nn.functional as F

torch.manual_seed(20261128)
torch.set_num_threads(1)

CFG = dict(n_layer=2, n_head=4, n_embd=64, vocab_size=512, n_positions=128,
           layer_norm_epsilon=1e-5, activation_function="gelu_new", n_inner=None,
           bos_token_id=511, eos_token_id=511, model_type="gpt2",
           architectures=["GPT2LMHeadModel"], tie_word_embeddings=True)
L, NH, C, V, P = CFG["n_layer"], CFG["n_head"], CFG["n_embd"], CFG["vocab_size"], CFG["n_positions"]
IGNORE = -100
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference")


# ---------------------------------------------------------------- parameters

def init_params():
    def n(*shape, std):
        return torch.randn(*shape) * std

    P_ = {"wte.weight": n(V, C, std=0.1), "wpe.weight": n(P, C, std=0.05)}
    for i in range(L):
        p = "h.%d." % i
        P_[p + "ln_1.weight"] = 1 + n(C, std=0.2)
        P_[p + "ln_1.bias"] = n(C, std=0.1)
        P_[p + "attn.c_attn.weight"] = n(C, 3 * C, std=0.25)
        P_[p + "attn.c_attn.bias"] = n(3 * C, std=0.1)
        P_[p + "attn.c_proj.weight"] = n(C, C, std=0.1)
        P_[p + "attn.c_proj.bias"] = n(C, std=0.05)
        P_[p + "ln_2.weight"] = 1 + n(C, std=0.2)
        P_[p + "ln_2.bias"] = n(C, std=0.1)
        P_[p + "mlp.c_fc.weight"] = n(C, 4 * C, std=0.125)
        P_[p + "mlp.c_fc.bias"] = n(4 * C, std=0.1)
        P_[p + "mlp.c_proj.weight"] = n(4 * C, C, std=0.05)
        P_[p + "mlp.c_proj.bias"] = n(C, std=0.05)
    P_["ln_f.weight"] = 1 + n(C, std=0.2)
    P_["ln_f.bias"] = n(C, std=0.1)
    return P_


# ---------------------------------------------------------------- model

def gelu_new(x):  # HF NewGELUActivation, written out
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def layer_norm(x, P_, name):
    return F.layer_norm(x, (C,), P_[name + ".weight"], P_[name + ".bias"], CFG["layer_norm_epsilon"])


def conv1d(x, P_, name, lora=None):
    """HF Conv1D, plus LoRA deltas: lora maps a module name to a list of
    (lo, hi, A [r, in], B [hi-lo, r], scale), each adding scale·x·Aᵀ·Bᵀ to columns lo:hi."""
    y = x @ P_[name + ".weight"] + P_[name + ".bias"]
    if lora and name in lora:
        for lo, hi, A, B, scale in lora[name]:
            d = scale * ((x @ A.t()) @ B.t())
            y = torch.cat([y[..., :lo], y[..., lo:hi] + d, y[..., hi:]], dim=-1)
    return y


def hidden(P_, ids, pos=None, seg=None, lora=None):
    """ids, pos, seg: LongTensor [B, T]. Returns ln_f output [B, T, C]."""
    B, T = ids.shape
    if pos is None:
        pos = torch.arange(T).expand(B, T)
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    mask = causal[None].expand(B, T, T)
    if seg is not None:
        mask = mask & (seg[:, :, None] == seg[:, None, :])
    x = P_["wte.weight"][ids] + P_["wpe.weight"][pos]
    hs = C // NH
    for i in range(L):
        p = "h.%d." % i
        h = layer_norm(x, P_, p + "ln_1")
        q, k, v = conv1d(h, P_, p + "attn.c_attn", lora).split(C, dim=2)
        q, k, v = (t.view(B, T, NH, hs).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-1, -2)) / math.sqrt(hs)
        att = att.masked_fill(~mask[:, None], float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + conv1d(y, P_, p + "attn.c_proj", lora)
        h = layer_norm(x, P_, p + "ln_2")
        x = x + conv1d(gelu_new(conv1d(h, P_, p + "mlp.c_fc", lora)), P_, p + "mlp.c_proj", lora)
    return layer_norm(x, P_, "ln_f")


def logits_of(P_, ids, **kw):
    return hidden(P_, ids, **kw) @ P_["wte.weight"].t()


def loss_of(P_, batch, lora=None):
    lg = logits_of(P_, batch["ids"], pos=batch["pos"], seg=batch["seg"], lora=lora)
    return F.cross_entropy(lg.reshape(-1, V), batch["targets"].reshape(-1), ignore_index=IGNORE)


# ---------------------------------------------------------------- files

def save_safetensors(path, tensors):
    """The safetensors format, written by hand: u64 header size, JSON header, data."""
    codes = {torch.float32: "F32", torch.bfloat16: "BF16", torch.float16: "F16", torch.uint8: "U8"}
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous()
        if t.dtype in (torch.bfloat16, torch.float16):
            b = t.view(torch.int16).numpy().tobytes()
        else:
            b = t.numpy().tobytes()
        header[name] = {"dtype": codes[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
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


def save_adapter(dirname, config, tensors):
    """A PEFT LoRA adapter directory, as PeftModel.save_pretrained writes it."""
    os.makedirs(dirname, exist_ok=True)
    with open(os.path.join(dirname, "adapter_config.json"), "w") as f:
        json.dump(config, f, indent=2)
    save_safetensors(os.path.join(dirname, "adapter_model.safetensors"), tensors)


def peft_config(r, alpha, target_modules, rslora=False, layers=None):
    """adapter_config.json as PEFT 0.13 writes it for GPT-2, keys it added over the years
    included (a reader must ignore the ones it does not know)."""
    return {
        "alpha_pattern": {}, "auto_mapping": None, "base_model_name_or_path": "tiny-gpt2",
        "bias": "none", "fan_in_fan_out": True, "inference_mode": True, "init_lora_weights": True,
        "layer_replication": None, "layers_pattern": None, "layers_to_transform": layers,
        "loftq_config": {}, "lora_alpha": alpha, "lora_dropout": 0.0, "megatron_config": None,
        "megatron_core": "megatron.core", "modules_to_save": None, "peft_type": "LORA", "r": r,
        "rank_pattern": {}, "revision": None, "target_modules": target_modules,
        "task_type": "CAUSAL_LM", "use_dora": False, "use_rslora": rslora,
    }


def kaiming_a(r, fan_in):  # torch.nn.init.kaiming_uniform_(A, a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    A = torch.empty(r, fan_in)
    torch.nn.init.kaiming_uniform_(A, a=math.sqrt(5))
    return A


def lora_goldens(P_, batch, meta, expected, g):
    """LoRA r=4, alpha=8 on q and v of both layers (scaling 2), A kaiming-uniform, B small and
    non-zero so the delta matters; then two PEFT-format adapters (fused c_attn)."""
    r, alpha = 4, 8.0
    s = alpha / r
    init = {}
    for i in range(L):
        for part in ("q", "v"):
            n = "h.%d.attn.c_attn.%s." % (i, part)
            init[n + "lora_A.weight"] = kaiming_a(r, C)
            init[n + "lora_B.weight"] = torch.randn(C, r) * 0.1
    for k, v in init.items():
        expected["lora_init." + k] = v

    def lora_of(W):
        return {"h.%d.attn.c_attn" % i: [
            (0, C, W["h.%d.attn.c_attn.q.lora_A.weight" % i], W["h.%d.attn.c_attn.q.lora_B.weight" % i], s),
            (2 * C, 3 * C, W["h.%d.attn.c_attn.v.lora_A.weight" % i], W["h.%d.attn.c_attn.v.lora_B.weight" % i], s),
        ] for i in range(L)}

    ids33 = torch.tensor([meta["ids.T33"]])
    with torch.no_grad():
        expected["lora_logits.T33"] = logits_of(P_, ids33, lora=lora_of(init))[0]
        # Merged: W[in, out] += s·(B·A)ᵀ on the adapted columns; the merged model alone
        # must give the same logits.
        merged = dict(P_)
        for i in range(L):
            name = "h.%d.attn.c_attn.weight" % i
            W = P_[name].clone()
            for lo, hi, A, B, sc in lora_of(init)["h.%d.attn.c_attn" % i]:
                W[:, lo:hi] += sc * (B @ A).t()
            merged[name] = W
            expected["lora_merged." + name] = W
        assert torch.allclose(logits_of(merged, ids33), expected["lora_logits.T33"], atol=1e-5)

        # Greedy generation with the adapter: 12 new tokens after ids.T7, full forward each step.
        seq = list(meta["ids.T7"])
        for _ in range(12):
            lg = logits_of(P_, torch.tensor([seq]), lora=lora_of(init))[0, -1]
            seq.append(int(lg.argmax()))
        meta["lora_greedy"] = {"prompt": meta["ids.T7"], "ids": seq[len(meta["ids.T7"]):]}

    W = {k: v.clone().requires_grad_(True) for k, v in init.items()}
    loss = loss_of(P_, batch, lora=lora_of(W))
    loss.backward()
    meta["lora_loss"] = loss.item()
    for k, v in W.items():
        expected["lora_grad." + k] = v.grad

    W = {k: v.clone().requires_grad_(True) for k, v in init.items()}
    opt = torch.optim.AdamW(list(W.values()), lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        loss = loss_of(P_, batch, lora=lora_of(W))
        losses.append(loss.item())
        loss.backward()
        opt.step()
    with torch.no_grad():
        losses.append(loss_of(P_, batch, lora=lora_of(W)).item())
    meta["lora_adamw_losses"] = losses
    for k, v in W.items():
        expected["lora_adamw3." + k] = v.detach()

    # PEFT adapters as PEFT saves them for GPT2LMHeadModel: fused c_attn (q, k and v
    # together), lora_A [r, in], lora_B [out, r] in nn.Linear layout although the base is a
    # Conv1D (fan_in_fan_out), keys prefixed base_model.model.transformer.
    def peft(dirname, cfg, modules, r, scale):
        tensors, lora = {}, {}
        for i, mod, fin, fout in modules:
            A, B = kaiming_a(r, fin), torch.randn(fout, r) * 0.1
            key = "base_model.model.transformer.h.%d.%s" % (i, mod)
            tensors[key + ".lora_A.weight"], tensors[key + ".lora_B.weight"] = A, B
            lora["h.%d.%s" % (i, mod)] = [(0, fout, A, B, scale)]
        save_adapter(os.path.join(OUT, dirname), cfg, tensors)
        with torch.no_grad():
            return logits_of(P_, ids33, lora=lora)[0]

    expected["peft_r3_logits.T33"] = peft(
        "peft-r3", peft_config(3, 6, ["c_attn", "mlp.c_proj"]),
        [(i, m, fi, fo) for i in range(L) for m, fi, fo in (("attn.c_attn", C, 3 * C), ("mlp.c_proj", 4 * C, C))],
        3, 6 / 3)
    expected["peft_r2_rslora_logits.T33"] = peft(
        "peft-r2-rslora", peft_config(2, 4, r".*\.h\.1\.attn\.c_attn", rslora=True, layers=[1]),
        [(1, "attn.c_attn", C, 3 * C)], 2, 4 / math.sqrt(2))


def save_model(dirname, tensors):
    os.makedirs(dirname, exist_ok=True)
    with open(os.path.join(dirname, "config.json"), "w") as f:
        json.dump(CFG, f, indent=2)
    save_safetensors(os.path.join(dirname, "model.safetensors"), tensors)


# ---------------------------------------------------------------- main

def main():
    P_ = init_params()
    g = torch.Generator().manual_seed(7)

    # Checkpoints: F32 with the "transformer." prefix; BF16 hub style with buffers and lm_head.
    save_model(os.path.join(OUT, "tiny-f32"), {"transformer." + k: v for k, v in P_.items()})
    Pbf = {k: v.to(torch.bfloat16) for k, v in P_.items()}
    hub = dict(Pbf)
    for i in range(L):
        hub["h.%d.attn.bias" % i] = torch.ones(P, P, dtype=torch.uint8).tril().view(1, 1, P, P)
        hub["h.%d.attn.masked_bias" % i] = torch.tensor(-1e4)
    hub["lm_head.weight"] = Pbf["wte.weight"]
    save_model(os.path.join(OUT, "tiny-bf16"), hub)
    Pbf32 = {k: v.float() for k, v in Pbf.items()}

    expected, meta = {}, {"config": CFG}
    # Logits of single sequences.
    for T in (1, 7, 33):
        ids = torch.randint(0, V, (1, T), generator=g)
        meta["ids.T%d" % T] = ids[0].tolist()
        with torch.no_grad():
            expected["logits.T%d" % T] = logits_of(P_, ids)[0]
            if T == 33:
                expected["logits_bf16.T33"] = logits_of(Pbf32, ids)[0]

    # A training batch: 3 rows of 33 tokens. Row 0 plain next-token targets; row 1 with
    # its first 10 targets masked (a prompt) and 4 trailing pads; row 2 packs two
    # examples (20 + 13 tokens) with positions restarting and a block-diagonal mask.
    B, T = 3, 33
    ids = torch.randint(0, V, (B, T), generator=g)
    targets = torch.randint(0, V, (B, T), generator=g)
    targets[1, :10] = IGNORE
    targets[1, -4:] = IGNORE
    targets[2, 19] = IGNORE  # the last token of the first packed example has no next token
    pos = torch.arange(T).repeat(B, 1)
    seg = torch.zeros(B, T, dtype=torch.long)
    pos[2, 20:] = torch.arange(13)
    seg[2, 20:] = 1
    batch = dict(ids=ids, targets=targets, pos=pos, seg=seg)
    meta["batch"] = {k: v.tolist() for k, v in batch.items()}

    params = {k: v.clone().requires_grad_(True) for k, v in P_.items()}
    loss = loss_of(params, batch)
    loss.backward()
    meta["loss"] = loss.item()
    for k, v in params.items():
        expected["grad." + k] = v.grad

    # AdamW, PyTorch semantics, on every parameter: loss before each of 3 steps and after.
    params = {k: v.clone().requires_grad_(True) for k, v in P_.items()}
    opt = torch.optim.AdamW(list(params.values()), lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        loss = loss_of(params, batch)
        losses.append(loss.item())
        loss.backward()
        opt.step()
    with torch.no_grad():
        losses.append(loss_of(params, batch).item())
    meta["adamw"] = {"lr": 1e-2, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.01, "losses": losses}
    for k in ("wte.weight", "h.1.attn.c_attn.weight", "ln_f.bias"):
        expected["adamw3." + k] = params[k].detach()

    lora_goldens(P_, batch, meta, expected, g)

    # GELU (tanh) on sample values, against torch's own implementation.
    x = torch.cat([torch.linspace(-8, 8, 161), torch.tensor([-3e-3, 1e-6, 0.0, 0.5, 20.0, -20.0])])
    y = F.gelu(x, approximate="tanh")
    assert torch.allclose(y, gelu_new(x), atol=1e-6)
    meta["gelu"] = {"x": x.tolist(), "y": y.tolist()}

    save_safetensors(os.path.join(OUT, "expected.safetensors"), expected)
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(meta, f)
    print("loss %.6f  adamw losses %s" % (meta["loss"], " ".join("%.6f" % l for l in losses)))


if __name__ == "__main__":
    main()
