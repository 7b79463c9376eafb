#!/usr/bin/python3
"""Writes tiny Stable Diffusion folders in diffusers' ONNX layout, exported by PyTorch's own exporter (torch.onnx).

The module trees follow diffusers' UNet2DConditionModel / CLIPTextModel / AutoencoderKL for SD 1.5 (4 down blocks, a
mid block, 4 up blocks, 16 cross-attention `attn2` layers, the same module names, so the exports carry the node names
of a real export such as /down_blocks.0/attentions.0/transformer_blocks.0/attn2/Softmax), only much narrower: channels
(8, 16, 16, 16), 2 heads, text width 32, a 814-token CLIP vocabulary (CLIP's 512 byte tokens, its first 300 merges and
the two special tokens), latents 16x16 for 128x128 images. Each file stays well under 1 MB, so the folders are
committed and the tests need no torch. To stay small, the named exports freeze the spatial sizes (16x16 latents; only the
batch is dynamic, so few shape operators); the anonymous one keeps height and width dynamic (non-square latents work).

Variants (each a complete folder: tokenizer/, text_encoder/, unet/, vae_decoder/, vae_encoder/, scheduler/):
  opset14-folded   torch.onnx opset 14, module-scoped node names (tensors renamed v<i>); attention as diffusers' AttnProcessor (heads folded into the batch,
                   probs [B*h,N,77], baddbmm); timestep int64 [B]; input_ids int32; VAE encoder -> latent_sample
                   (sampled in the graph, as diffusers' conversion script does)
  opset17-split    opset 17; attention as the exported scaled_dot_product_attention (probs [B,h,N,77], the scale split
                   over q and k); timestep float32 rank 0 (Optimum); input_ids int64; every node, tensor and initializer
                   renamed to n<i>/v<i>/w<i> (an export without module names); VAE encoder -> latent_parameters
  fp16-io          as opset14-folded, but sample, encoder_hidden_states, out_sample, the text encoder's outputs and the
                   VAE's tensors are float16 at the graph boundary (the inside stays float32, so it runs on CPU)

Beside each folder's unet/model.onnx, reference.bin holds float32 arrays computed by PyTorch for one fixed input
(see write_reference): the input, out_sample, the reference's DAAM aggregation of the attn2 probabilities over two
token positions (sdov's DAAMStore.update: per head bicubic resize to the first layer's size, clamp >= 0, sum over heads
and layers, no division), and to_q of attn2 layers 0, 6..12, 15 resized bilinearly to the latent size; and "features", what the SD feature
extractor must return for a fixed image (see feature_reference).

  /usr/bin/python3 make_tiny_sd.py OUT_DIR [--tokenizer ../../../../shared/data/clip-tokenizer]
Needs torch (1.13: Debian's python3-torch) and onnx.
"""
import json, math, os, shutil, struct, sys

import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

CH = (8, 8, 8, 8)
HEADS = 2
TEXT = 32
TEMB = 16
GROUPS = 4
VOCAB_MERGES = 300
LATENT = 16
CAPTURE = None  # set while computing references: a dict the attention layers write into
STATIC = True  # spatial sizes frozen into the graph (only the batch is dynamic): few shape operators, a small file


def gn(c, eps=1e-5):
    return nn.GroupNorm(GROUPS, c, eps=eps)


class ResnetBlock2D(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.norm1, self.conv1 = gn(cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.time_emb_proj = nn.Linear(TEMB, cout)
        self.norm2, self.conv2 = gn(cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x))) + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return (x if self.conv_shortcut is None else self.conv_shortcut(x)) + h


class Attention(nn.Module):
    """diffusers' Attention; `layout` chooses how the export writes it (see the module docstring)."""

    layout = "folded"

    def __init__(self, c, context_dim, heads=HEADS, name=""):
        super().__init__()
        self.heads, self.scale, self.name = heads, (c // heads) ** -0.5, name
        self.to_q = nn.Linear(c, c, bias=False)
        self.to_k = nn.Linear(context_dim, c, bias=False)
        self.to_v = nn.Linear(context_dim, c, bias=False)
        self.to_out = nn.ModuleList([nn.Linear(c, c), nn.Dropout(0.0)])

    def head_to_batch_dim(self, t):
        if STATIC:  # the batch stays -1, the other sizes become constants
            n, c = int(t.shape[1]), int(t.shape[2])
            return t.reshape(-1, n, self.heads, c // self.heads).permute(0, 2, 1, 3).reshape(-1, n, c // self.heads)
        b, n, c = t.shape
        return t.reshape(b, n, self.heads, c // self.heads).permute(0, 2, 1, 3).reshape(b * self.heads, n, c // self.heads)

    def batch_to_head_dim(self, t):
        if STATIC:
            n, d = int(t.shape[1]), int(t.shape[2])
            return t.reshape(-1, self.heads, n, d).permute(0, 2, 1, 3).reshape(-1, n, d * self.heads)
        bh, n, d = t.shape
        return t.reshape(bh // self.heads, self.heads, n, d).permute(0, 2, 1, 3).reshape(bh // self.heads, n, d * self.heads)

    def forward(self, x, context=None):
        is_cross = context is not None
        context = x if context is None else context
        q = self.to_q(x)
        k, v = self.to_k(context), self.to_v(context)
        if CAPTURE is not None and is_cross:
            CAPTURE.setdefault("q", []).append(q.detach())
        if Attention.layout == "folded":
            q, k, v = self.head_to_batch_dim(q), self.head_to_batch_dim(k), self.head_to_batch_dim(v)
            empty = torch.zeros(1, 1, 1, dtype=q.dtype, device=q.device) if STATIC else \
                torch.empty(q.shape[0], q.shape[1], k.shape[1], dtype=q.dtype, device=q.device)
            probs = torch.baddbmm(empty, q, k.transpose(-1, -2), beta=0, alpha=self.scale).softmax(dim=-1)
            out = self.batch_to_head_dim(torch.bmm(probs, v))
        else:  # the opset-14 symbolic of F.scaled_dot_product_attention: [B,h,N,d], sqrt(scale) on q and on k
            b, n, c = x.shape
            d = c // self.heads
            q, k, v = (t.view(b, -1, self.heads, d).transpose(1, 2) for t in (q, k, v))
            s = math.sqrt(self.scale)
            probs = torch.softmax(torch.matmul(q * s, k.transpose(-2, -1) * s), dim=-1)
            out = torch.matmul(probs, v).transpose(1, 2).reshape(b, -1, c)
        if CAPTURE is not None and is_cross:
            CAPTURE.setdefault("probs", []).append((probs.detach(), self.heads))
        return self.to_out[1](self.to_out[0](out))


class GEGLU(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.proj = nn.Linear(c, 4 * c)

    def forward(self, x):
        a, gate = self.proj(x).chunk(2, dim=-1)
        return a * F.gelu(gate)


class FeedForward(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.net = nn.ModuleList([GEGLU(c), nn.Dropout(0.0), nn.Linear(2 * c, c)])

    def forward(self, x):
        for m in self.net:
            x = m(x)
        return x


class BasicTransformerBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.norm1, self.attn1 = nn.LayerNorm(c), Attention(c, c)
        self.norm2, self.attn2 = nn.LayerNorm(c), Attention(c, TEXT)
        self.norm3, self.ff = nn.LayerNorm(c), FeedForward(c)

    def forward(self, x, context):
        x = self.attn1(self.norm1(x)) + x
        x = self.attn2(self.norm2(x), context) + x
        return self.ff(self.norm3(x)) + x


class Transformer2DModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.norm, self.proj_in = gn(c, 1e-6), nn.Conv2d(c, c, 1)
        self.transformer_blocks = nn.ModuleList([BasicTransformerBlock(c)])
        self.proj_out = nn.Conv2d(c, c, 1)

    def forward(self, x, context):
        b, c, hh, ww = (-1, *(int(d) for d in x.shape[1:])) if STATIC else x.shape
        y = self.proj_in(self.norm(x)).permute(0, 2, 3, 1).reshape(b, hh * ww, c)
        for blk in self.transformer_blocks:
            y = blk(y, context)
        return self.proj_out(y.reshape(b, hh, ww, c).permute(0, 3, 1, 2)) + x


class Sampler2D(nn.Module):
    def __init__(self, c, down):
        super().__init__()
        self.down, self.conv = down, nn.Conv2d(c, c, 3, stride=2 if down else 1, padding=1)

    def forward(self, x, size=None):
        if self.down:
            return self.conv(x)
        if STATIC:
            return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))
        return self.conv(F.interpolate(x, size=size, mode="nearest"))


class Block(nn.Module):
    def __init__(self, kind, resnet_channels, c, attention, sampled):
        super().__init__()
        self.up = kind == "up"
        self.resnets = nn.ModuleList([ResnetBlock2D(i, c) for i in resnet_channels])
        self.attentions = nn.ModuleList([Transformer2DModel(c) for _ in resnet_channels]) if attention else None
        if sampled:
            setattr(self, kind + "samplers", nn.ModuleList([Sampler2D(c, down=not self.up)]))

    def forward(self, x, temb, context, skips):
        outputs = []
        for j, resnet in enumerate(self.resnets):
            x = resnet(torch.cat([x, skips.pop()], dim=1) if self.up else x, temb)
            if self.attentions is not None:
                x = self.attentions[j](x, context)
            outputs.append(x)
        for sampler in getattr(self, "downsamplers", []):
            x = sampler(x)
            outputs.append(x)
        if not self.up:
            skips.extend(outputs)
        return x

    def upsample(self, x, size):
        for sampler in getattr(self, "upsamplers", []):
            x = sampler(x, size)
        return x


class UNetMidBlock2DCrossAttn(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(c, c), ResnetBlock2D(c, c)])
        self.attentions = nn.ModuleList([Transformer2DModel(c)])

    def forward(self, x, temb, context):
        return self.resnets[1](self.attentions[0](self.resnets[0](x, temb), context), temb)


class TimestepEmbedding(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear_1, self.linear_2 = nn.Linear(CH[0], TEMB), nn.Linear(TEMB, TEMB)

    def forward(self, t):
        return self.linear_2(F.silu(self.linear_1(t)))


class UNet2DConditionModel(nn.Module):
    def __init__(self, boundary_dtype=torch.float32):
        super().__init__()
        ch = CH
        self.boundary_dtype = boundary_dtype
        self.conv_in = nn.Conv2d(4, ch[0], 3, padding=1)
        self.time_embedding = TimestepEmbedding()
        skips, cin = [ch[0]], ch[0]
        self.down_blocks = nn.ModuleList()
        for i, c in enumerate(ch):
            last = i == len(ch) - 1
            self.down_blocks.append(Block("down", [cin, c], c, attention=not last, sampled=not last))
            skips += [c, c] + ([] if last else [c])
            cin = c
        self.mid_block = UNetMidBlock2DCrossAttn(ch[-1])
        self.up_blocks = nn.ModuleList()
        for i, c in enumerate(reversed(ch)):
            ins = [(cin if j == 0 else c) + skips.pop() for j in range(3)]
            self.up_blocks.append(Block("up", ins, c, attention=i > 0, sampled=i < len(ch) - 1))
            cin = c
        self.conv_norm_out, self.conv_out = gn(ch[0]), nn.Conv2d(ch[0], 4, 3, padding=1)

    def forward(self, sample, timestep, encoder_hidden_states):
        sample, encoder_hidden_states = sample.float(), encoder_hidden_states.float()
        half = CH[0] // 2
        freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32) / half)
        t = timestep.float().reshape(-1).expand(sample.shape[0])
        e = t[:, None] * freqs[None]
        temb = self.time_embedding(torch.cat([torch.cos(e), torch.sin(e)], dim=-1))
        x = self.conv_in(sample)
        skips = [x]
        sizes = []
        for block in self.down_blocks:
            sizes.append(x.shape[-2:])
            x = block(x, temb, encoder_hidden_states, skips)
        x = self.mid_block(x, temb, encoder_hidden_states)
        for i, block in enumerate(self.up_blocks):
            x = block(x, temb, encoder_hidden_states, skips)
            if i < len(self.up_blocks) - 1:
                x = block.upsample(x, sizes[-(i + 2)])
        out = self.conv_out(F.silu(self.conv_norm_out(x)))
        return out.to(self.boundary_dtype)


class CLIPTextModel(nn.Module):
    """CLIP's text transformer, one layer: token + position embeddings, causal self-attention, MLP, final LayerNorm;
    pooler_output is the hidden state at the end token (the largest id, as CLIP takes argmax(input_ids))."""

    def __init__(self, vocab, boundary_dtype=torch.float32):
        super().__init__()
        self.boundary_dtype = boundary_dtype
        self.token_embedding = nn.Embedding(vocab, TEXT)
        self.position_embedding = nn.Embedding(77, TEXT)
        self.layer_norm1, self.layer_norm2, self.final_layer_norm = nn.LayerNorm(TEXT), nn.LayerNorm(TEXT), nn.LayerNorm(TEXT)
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(TEXT, TEXT) for _ in range(4))
        self.fc1, self.fc2 = nn.Linear(TEXT, 4 * TEXT), nn.Linear(4 * TEXT, TEXT)

    def forward(self, input_ids):
        ids = input_ids.long()
        x = self.token_embedding(ids) + self.position_embedding(torch.arange(ids.shape[1])[None])
        h = self.layer_norm1(x)
        q, k, v = self.q_proj(h), self.k_proj(h), self.v_proj(h)
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(TEXT)
        mask = torch.triu(torch.full((ids.shape[1], ids.shape[1]), float("-inf")), diagonal=1)
        x = x + self.out_proj(torch.matmul(torch.softmax(scores + mask, dim=-1), v))
        h = self.fc2(self.fc1(self.layer_norm2(x)) * torch.sigmoid(1.702 * self.fc1(self.layer_norm2(x))))
        x = self.final_layer_norm(x + h)
        pooled = x[torch.arange(x.shape[0]), ids.argmax(dim=-1)]
        return x.to(self.boundary_dtype), pooled.to(self.boundary_dtype)


class VaeDecoder(nn.Module):
    def __init__(self, boundary_dtype=torch.float32):
        super().__init__()
        self.boundary_dtype = boundary_dtype
        self.post_quant_conv = nn.Conv2d(4, 4, 1)
        self.conv_in = nn.Conv2d(4, 16, 3, padding=1)
        self.up = nn.ModuleList([nn.Conv2d(16, 16, 3, padding=1) for _ in range(3)])
        self.norm, self.conv_out = gn(16), nn.Conv2d(16, 3, 3, padding=1)

    def forward(self, latent_sample):
        x = self.conv_in(self.post_quant_conv(latent_sample.float()))
        for conv in self.up:
            x = F.silu(conv(F.interpolate(x, scale_factor=2.0, mode="nearest")))
        return torch.tanh(self.conv_out(F.silu(self.norm(x)))).to(self.boundary_dtype)


class VaeEncoder(nn.Module):
    def __init__(self, sampled, boundary_dtype=torch.float32):
        super().__init__()
        self.sampled, self.boundary_dtype = sampled, boundary_dtype
        self.conv_in = nn.Conv2d(3, 16, 3, padding=1)
        self.down = nn.ModuleList([nn.Conv2d(16, 16, 3, stride=2, padding=1) for _ in range(3)])
        self.norm, self.conv_out = gn(16), nn.Conv2d(16, 8, 3, padding=1)
        self.quant_conv = nn.Conv2d(8, 8, 1)

    def forward(self, sample):
        x = self.conv_in(sample.float())
        for conv in self.down:
            x = F.silu(conv(x))
        moments = self.quant_conv(self.conv_out(F.silu(self.norm(x))))
        if not self.sampled:
            return moments.to(self.boundary_dtype)
        mean, logvar = torch.chunk(moments, 2, dim=1)
        std = torch.exp(0.5 * torch.clamp(logvar, -30.0, 20.0))
        return (mean + std * torch.randn_like(mean)).to(self.boundary_dtype)


def tiny_vocabulary(tokenizer_dir, out_dir):
    """CLIP's byte-level base tokens and their </w> forms, the first VOCAB_MERGES merges, then the two special tokens."""
    with open(os.path.join(tokenizer_dir, "merges.txt"), encoding="utf-8") as f:
        lines = [l.rstrip("\n") for l in f if l.strip()]
    merges = [l for l in lines if not l.startswith("#version")][:VOCAB_MERGES]
    with open(os.path.join(tokenizer_dir, "vocab.json"), encoding="utf-8") as f:
        full = json.load(f)
    by_id = sorted(full.items(), key=lambda kv: kv[1])
    vocab = {token: i for token, i in by_id[:512]}
    for m in merges:
        vocab["".join(m.split(" "))] = len(vocab)
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False, separators=(",", ":"))
    with open(os.path.join(out_dir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(merges) + "\n")
    return len(vocab)


def anonymise(path, keep_node_names=False):
    """Renames every intermediate tensor and initializer, and every node unless `keep_node_names` (an export without
    module scopes names them so). Keeping the node names (the hints a real export carries) but shortening the tensor
    names is what keeps the named exports small."""
    model = onnx.load(path)
    g = model.graph
    keep = {i.name for i in g.input} | {o.name for o in g.output}
    rename = {}
    for i, init in enumerate(g.initializer):
        rename[init.name] = f"w{i}"
    for node in g.node:
        for o in node.output:
            if o and o not in keep and o not in rename:
                rename[o] = f"v{len(rename)}"
    for i, node in enumerate(g.node):
        if not keep_node_names:
            node.name = f"n{i}"
        node.input[:] = [rename.get(x, x) for x in node.input]
        node.output[:] = [rename.get(x, x) for x in node.output]
    for init in g.initializer:
        init.name = rename[init.name]
    for vi in g.value_info:
        vi.name = rename.get(vi.name, vi.name)
    onnx.save(model, path)


def export(module, args, path, input_names, output_names, dynamic_axes, opset):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(module, args, path, opset_version=opset, input_names=input_names, output_names=output_names,
                          dynamic_axes=dynamic_axes, do_constant_folding=True)
    onnx.checker.check_model(onnx.load(path))


def daam_reference(probs_list, size, token_indices):
    """sdov's DAAMStore.update for one UNet call, without the conditional-half selection and the division by the head
    count: for each layer, per head and token, bicubic resize to `size`, clamp >= 0, sum over heads; sum over layers."""
    total = None
    for probs, heads in probs_list:
        seq, ntok = probs.shape[-2], probs.shape[-1]
        m = probs.reshape(-1, heads, seq, ntok)
        b = m.shape[0]
        a_h = int(round(math.sqrt(seq * size[0] / size[1])))
        a_w = seq // a_h
        k = len(token_indices)
        m = m[..., token_indices].reshape(b, heads, a_h, a_w, k).permute(0, 4, 1, 2, 3).reshape(b * k, heads, a_h, a_w).float()
        m = F.interpolate(m, size=size, mode="bicubic", align_corners=False).clamp(min=0)
        m = m.view(b, k, heads, *size).sum(2)
        total = m if total is None else total + m
    return total


def query_features(queries):
    """sdov's FeatStore: to_q of attn2 layers 0, 6..12, 15 ([B, N, C] each) resized bilinearly to the latent grid, concatenated."""
    feats = []
    for layer in [0, 6, 7, 8, 9, 10, 11, 12, 15]:
        q = queries[layer]
        b, n, c = q.shape
        hw = int(math.sqrt(n))
        fm = q.transpose(-1, -2).reshape(b, c, hw, hw)
        if hw != LATENT:
            fm = F.interpolate(fm, size=(LATENT, LATENT), mode="bilinear", align_corners=False)
        feats.append(fm)
    return torch.cat(feats, dim=1)


def splitmix_gaussian(seed, count):
    """OvDiff's SampleNoise.FillGaussian: SplitMix64 from the seed, uniforms (x >> 11) * 2^-53, Box-Muller in float64."""
    mask = (1 << 64) - 1

    def mix(z):
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        return z ^ (z >> 31)

    state, out = seed, []
    while len(out) < count:
        state = (state + 0x9E3779B97F4A7C15) & mask
        u1 = (mix(state) >> 11) * (1.0 / (1 << 53))
        state = (state + 0x9E3779B97F4A7C15) & mask
        u2 = (mix(state) >> 11) * (1.0 / (1 << 53))
        r = math.sqrt(-2.0 * math.log(1.0 - u1))
        out += [r * math.cos(2 * math.pi * u2), r * math.sin(2 * math.pi * u2)]
    return torch.tensor(out[:count], dtype=torch.float64).float()


def feature_reference(unet, text, enc, vocab, boundary_dtype, timestep_kind):
    """What OvDiff's StableDiffusionFeatureExtractor must return for a fixed 128x128 image (seed 42, t = 200): the VAE's
    mean + std * noise (OvDiff's noise) times 0.18215, DDPM-noised at t = 200 with the next noise values, the UNet run once
    with the empty prompt's embedding, to_q of attn2 layers 0, 6..12, 15 resized bilinearly to the latent grid, concatenated."""
    global CAPTURE
    size = 8 * LATENT
    y, x = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    pixels = torch.stack([(x * 7 + y * 13 + c * 50) % 256 for c in range(3)]).float()  # the C# test draws the same
    image = (pixels / 127.5 - 1.0)[None]
    with torch.no_grad():
        h = enc.conv_in(image.to(boundary_dtype).float())
        for conv in enc.down:
            h = F.silu(conv(h))
        moments = enc.quant_conv(enc.conv_out(F.silu(enc.norm(h))))
        mean, logvar = torch.chunk(moments, 2, dim=1)
        std = torch.exp(0.5 * torch.clamp(logvar, -30.0, 20.0))
        n = 4 * LATENT * LATENT
        noise = splitmix_gaussian(42, 2 * n)
        latent = (mean.reshape(-1) + std.reshape(-1) * noise[:n]) * 0.18215
        betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
        acp = torch.cumprod(1 - betas, 0)[200]
        noisy = (math.sqrt(acp) * latent.double() + math.sqrt(1 - acp) * noise[n:].double()).float().reshape(1, 4, LATENT, LATENT)
        ids = torch.tensor([[vocab - 2] + [vocab - 1] * 76])
        ehs = text(ids)[0]
        CAPTURE = {}
        t = torch.tensor(200.0) if timestep_kind == "scalar" else torch.tensor([200])
        unet(noisy.to(boundary_dtype), t, ehs)
        feats = query_features(CAPTURE["q"])
        CAPTURE = None
    return feats


def write_reference(unet, folder, timestep_kind, boundary_dtype, features):
    global CAPTURE
    g = torch.Generator().manual_seed(1234)
    sample = torch.randn(2, 4, LATENT, LATENT, generator=g)
    ehs = torch.randn(2, 77, TEXT, generator=g)
    t = 500
    token_indices = [5, 6]
    CAPTURE = {}
    with torch.no_grad():
        out = unet(sample.to(boundary_dtype), torch.tensor(t) if timestep_kind == "scalar" else torch.full((2,), t, dtype=torch.int64),
                   ehs.to(boundary_dtype)).float()
    maps = daam_reference(CAPTURE["probs"], (LATENT, LATENT), token_indices)
    feats = query_features(CAPTURE["q"])
    CAPTURE = None
    arrays = [("sample", sample), ("encoder_hidden_states", ehs), ("out_sample", out), ("attn_maps", maps), ("sd_q", feats),
              ("features", features)]
    with open(os.path.join(folder, "unet", "reference.bin"), "wb") as f:
        header = {"timestep": t, "token_indices": token_indices, "arrays": []}
        offset = 0
        for name, a in arrays:
            header["arrays"].append({"name": name, "shape": list(a.shape), "offset": offset})
            offset += a.numel() * 4
        blob = json.dumps(header).encode()
        f.write(struct.pack("<i", len(blob)))
        f.write(blob)
        for _, a in arrays:
            f.write(a.detach().float().contiguous().numpy().astype("<f4").tobytes())


def write_folder(out, name, tokenizer_dir, layout, opset, timestep_kind, ids_dtype, anonymous, boundary_dtype, vae_sampled, static):
    global STATIC
    STATIC = static
    folder = os.path.join(out, name)
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    torch.manual_seed(0)
    vocab = tiny_vocabulary(tokenizer_dir, os.path.join(folder, "tokenizer"))
    Attention.layout = layout
    unet, text, dec, enc = (UNet2DConditionModel(boundary_dtype).eval(), CLIPTextModel(vocab, boundary_dtype).eval(),
                            VaeDecoder(boundary_dtype).eval(), VaeEncoder(vae_sampled, boundary_dtype).eval())
    for m in (unet, text, dec, enc):  # small weights keep the tiny UNet's outputs in a sane range
        with torch.no_grad():
            for p in m.parameters():
                if p.dim() > 1:
                    p.mul_(0.5)

    ids = torch.full((1, 77), vocab - 1, dtype=ids_dtype)
    export(text, (ids,), f"{folder}/text_encoder/model.onnx", ["input_ids"], ["last_hidden_state", "pooler_output"],
           {"input_ids": {0: "batch"}, "last_hidden_state": {0: "batch"}, "pooler_output": {0: "batch"}}, opset)

    sample = torch.randn(2, 4, LATENT, LATENT).to(boundary_dtype)
    ehs = torch.randn(2, 77, TEXT).to(boundary_dtype)
    timestep = torch.tensor(500.0) if timestep_kind == "scalar" else torch.full((2,), 500, dtype=torch.int64)
    spatial = {} if static else {2: "height", 3: "width"}
    axes = {"sample": {0: "batch", **spatial}, "encoder_hidden_states": {0: "batch"}, "out_sample": {0: "batch", **spatial}}
    if timestep_kind != "scalar":
        axes["timestep"] = {0: "batch"}
    unet_path = f"{folder}/unet/model.onnx"
    export(unet, (sample, timestep, ehs), unet_path, ["sample", "timestep", "encoder_hidden_states"], ["out_sample"], axes, opset)
    anonymise(unet_path, keep_node_names=not anonymous)
    write_reference(unet, folder, timestep_kind, boundary_dtype, feature_reference(unet, text, enc, vocab, boundary_dtype, timestep_kind))

    export(dec, (torch.randn(1, 4, LATENT, LATENT).to(boundary_dtype),), f"{folder}/vae_decoder/model.onnx", ["latent_sample"], ["sample"],
           {"latent_sample": {0: "batch", 2: "height", 3: "width"}, "sample": {0: "batch", 2: "h8", 3: "w8"}}, opset)
    enc_out = "latent_sample" if vae_sampled else "latent_parameters"
    export(enc, (torch.randn(1, 3, 8 * LATENT, 8 * LATENT).to(boundary_dtype),), f"{folder}/vae_encoder/model.onnx", ["sample"], [enc_out],
           {"sample": {0: "batch", 2: "height", 3: "width"}, enc_out: {0: "batch", 2: "h8", 3: "w8"}}, opset)

    os.makedirs(f"{folder}/scheduler", exist_ok=True)
    with open(f"{folder}/scheduler/scheduler_config.json", "w") as f:
        json.dump({"_class_name": "PNDMScheduler", "_diffusers_version": "0.6.0", "beta_end": 0.012, "beta_schedule": "scaled_linear",
                   "beta_start": 0.00085, "num_train_timesteps": 1000, "set_alpha_to_one": False, "skip_prk_steps": True,
                   "steps_offset": 1, "trained_betas": None, "clip_sample": False}, f, indent=2)
    with open(f"{folder}/model_index.json", "w") as f:
        json.dump({"_class_name": "OnnxStableDiffusionPipeline", "_diffusers_version": "0.14.0",
                   "tiny": {"layout": layout, "opset": opset, "timestep": timestep_kind, "input_ids": str(ids_dtype),
                            "anonymous": anonymous, "boundary": str(boundary_dtype), "latent": LATENT,
                            "unet_spatial": "static" if static else "dynamic"}}, f, indent=2)
    for root, _, files in os.walk(folder):
        for fn in files:
            size = os.path.getsize(os.path.join(root, fn))
            assert size < 1_000_000, f"{fn} is {size} bytes"


def main(argv):
    out = argv[0]
    here = os.path.dirname(os.path.abspath(__file__))
    tokenizer = argv[argv.index("--tokenizer") + 1] if "--tokenizer" in argv else os.path.join(here, "../../../../shared/data/clip-tokenizer")
    write_folder(out, "opset14-folded", tokenizer, "folded", 14, "int64", torch.int32, False, torch.float32, True, True)
    write_folder(out, "opset17-split", tokenizer, "split", 17, "scalar", torch.int64, True, torch.float32, False, False)
    write_folder(out, "fp16-io", tokenizer, "folded", 14, "int64", torch.int32, False, torch.float16, True, True)
    print("wrote", ", ".join(sorted(os.listdir(out))))


if __name__ == "__main__":
    main(sys.argv[1:])
