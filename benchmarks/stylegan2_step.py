"""A small StyleGAN2-like generator + discriminator and one training step (G loss, D loss, R1
penalty on the reals), written here for the benchmark (not StyleGAN's code), using the ops the
way StyleGAN2 does:

- G: mapping MLP; synthesis from a learned 4x4 constant to 64x64 with modulated, demodulated
  3x3 convolutions (grouped conv2d, one group per sample); upsampling convolutions are a
  stride-2 transposed conv followed by upfirdn2d blurring with the [1, 3, 3, 1] filter (gain 4);
  per-layer noise, bias_act (lrelu); ToRGB (1x1 modulated conv, bias_act linear) with a skip
  image upsampled by upsample2d.
- D: ResNet blocks: conv 3x3 + bias_act, then a downsampling conv (upfirdn2d blur, stride-2
  conv) + bias_act, skip = downsample2d + 1x1 conv; minibatch-stddev epilogue, FC layers.
- R1 needs the gradient of D(reals) with respect to the reals, differentiated again:
  every op of D runs its double backward.

`ops` selects the implementation: "myops" (myops.bias_act / myops.upfirdn2d) or "reference"
(myops.reference: StyleGAN's pure-PyTorch formulas). The weights are identical for both.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

import myops
from myops import reference


class Ops:
    def __init__(self, kind: str):
        self.kind = kind
        self.bias_act = myops.bias_act if kind == "myops" else reference.bias_act
        self.upfirdn2d = myops.upfirdn2d if kind == "myops" else reference.upfirdn2d
        self.f = myops.setup_filter([1, 3, 3, 1])  # 2-D 4x4, as StyleGAN2 uses it

    def upsample2d(self, x):  # StyleGAN's upsample2d: up 2, padding [2, 1] per axis, gain 4
        return self.upfirdn2d(x, self.f, up=2, padding=[2, 1, 2, 1], gain=4)

    def downsample2d(self, x):  # down 2, padding [1, 1]
        return self.upfirdn2d(x, self.f, down=2, padding=[1, 1, 1, 1])


def _param(*shape, gain=1.0):
    return torch.nn.Parameter(torch.randn(*shape) * gain)


class FC(torch.nn.Module):
    def __init__(self, fin, fout, act="linear", lr_mul=1.0, bias_init=0.0):
        super().__init__()
        self.w = _param(fout, fin, gain=1 / lr_mul)
        self.b = torch.nn.Parameter(torch.full([fout], float(bias_init)))
        self.act, self.wg, self.bg = act, lr_mul / math.sqrt(fin), lr_mul

    def forward(self, x, ops):
        return ops.bias_act(x.matmul((self.w * self.wg).t()), self.b * self.bg, act=self.act)


class ModConv(torch.nn.Module):
    """Modulated conv (StyleGAN2 weight demodulation as a grouped conv), optional up 2."""

    def __init__(self, cin, cout, wdim, k=3, up=False, demod=True, act="lrelu"):
        super().__init__()
        self.w = _param(cout, cin, k, k)
        self.b = torch.nn.Parameter(torch.zeros(cout))
        self.affine = FC(wdim, cin, bias_init=1)
        self.up, self.demod, self.act, self.k = up, demod, act, k

    def forward(self, x, w, ops):
        n, cin, h, wd = x.shape
        s = self.affine(w, ops)                                      # [n, cin]
        wt = self.w[None] * s[:, None, :, None, None] / math.sqrt(cin * self.k * self.k)
        if self.demod:
            wt = wt * torch.rsqrt(wt.square().sum([2, 3, 4], keepdim=True) + 1e-8)
        cout = wt.shape[1]
        x = x.reshape(1, n * cin, h, wd)
        if self.up:  # StyleGAN2's conv2d_resample: transposed conv stride 2, then the blur
            wt = wt.transpose(1, 2).reshape(n * cin, cout, self.k, self.k)
            x = F.conv_transpose2d(x, wt, stride=2, groups=n)
            x = ops.upfirdn2d(x, ops.f, padding=[1, 1, 1, 1], gain=4)
        else:
            x = F.conv2d(x, wt.reshape(n * cout, cin, self.k, self.k), padding=self.k // 2, groups=n)
        x = x.reshape(n, cout, *x.shape[2:])
        if self.k == 3:
            x = x + torch.randn(n, 1, *x.shape[2:]) * 0.1
        return ops.bias_act(x, self.b, act=self.act, gain=math.sqrt(2) if self.act == "lrelu" else 1)


class Generator(torch.nn.Module):
    def __init__(self, channels, zdim=128, wdim=128, mapping_layers=4):
        super().__init__()
        self.zdim = zdim
        self.mapping = torch.nn.ModuleList([FC(zdim if i == 0 else wdim, wdim, act="lrelu", lr_mul=0.01)
                                            for i in range(mapping_layers)])
        res = sorted(channels)
        self.const = _param(channels[4], 4, 4)
        self.blocks = torch.nn.ModuleList()
        for r in res:
            cin = channels[max(r // 2, 4)]
            convs = torch.nn.ModuleList([ModConv(cin, channels[r], wdim, up=r > 4), ModConv(channels[r], channels[r], wdim)])
            if r == 4:
                convs = convs[1:]
            self.blocks.append(torch.nn.ModuleDict({"convs": convs,
                                                    "rgb": ModConv(channels[r], 3, wdim, k=1, demod=False, act="linear")}))

    def forward(self, z, ops):
        w = z * torch.rsqrt(z.square().mean(1, keepdim=True) + 1e-8)
        for fc in self.mapping:
            w = fc(w, ops)
        x = self.const[None].repeat(z.shape[0], 1, 1, 1)
        img = None
        for block in self.blocks:
            for conv in block["convs"]:
                x = conv(x, w, ops)
            y = block["rgb"](x, w, ops)
            img = y if img is None else ops.upsample2d(img) + y
        return img


class Conv(torch.nn.Module):
    def __init__(self, cin, cout, k=3, down=False, act="lrelu", bias=True):
        super().__init__()
        self.w = _param(cout, cin, k, k)
        self.b = torch.nn.Parameter(torch.zeros(cout)) if bias else None
        self.k, self.down, self.act, self.wg = k, down, act, 1 / math.sqrt(cin * k * k)

    def forward(self, x, ops):
        w = self.w * self.wg
        if self.down:  # StyleGAN2's conv2d_resample: the blur, then a stride-2 conv
            if self.k == 1:
                x = F.conv2d(ops.downsample2d(x), w)
            else:
                x = F.conv2d(ops.upfirdn2d(x, ops.f, padding=[2, 2, 2, 2]), w, stride=2)
        else:
            x = F.conv2d(x, w, padding=self.k // 2)
        if self.b is None and self.act == "linear":
            return x
        return ops.bias_act(x, self.b, act=self.act, gain=math.sqrt(2) if self.act == "lrelu" else 1)


class Discriminator(torch.nn.Module):
    def __init__(self, channels):
        super().__init__()
        res = sorted(channels, reverse=True)
        self.from_rgb = Conv(3, channels[res[0]], k=1)
        self.blocks = torch.nn.ModuleList()
        for r in res[:-1]:
            cin, cout = channels[r], channels[r // 2]
            self.blocks.append(torch.nn.ModuleList([Conv(cin, cin), Conv(cin, cout, down=True),
                                                    Conv(cin, cout, k=1, down=True, act="linear", bias=False)]))
        c4 = channels[4]
        self.conv = Conv(c4 + 1, c4)
        self.fc = FC(c4 * 16, c4, act="lrelu")
        self.out = FC(c4, 1)

    def forward(self, img, ops):
        x = self.from_rgb(img, ops)
        for conv0, conv1, skip in self.blocks:
            y = skip(x, ops)
            x = conv1(conv0(x, ops), ops)
            x = (x + y) * math.sqrt(0.5)
        n, c, h, w = x.shape  # minibatch stddev (group = batch)
        std = (x.var(0, unbiased=False) + 1e-8).sqrt().mean().reshape(1, 1, 1, 1).repeat(n, 1, h, w)
        x = self.conv(torch.cat([x, std], 1), ops)
        return self.out(self.fc(x.flatten(1), ops), ops)


CHANNELS = {4: 256, 8: 256, 16: 128, 32: 64, 64: 32}


def make(seed: int = 0, channels=None):
    torch.manual_seed(seed)
    channels = channels or CHANNELS
    return Generator(channels), Discriminator(channels)


def train_step(G, D, reals, ops, opt_g, opt_d, r1_gamma=1.0):
    """One StyleGAN2-style step: G (non-saturating loss), then D (logistic loss + R1 on reals)."""
    n = reals.shape[0]
    z = torch.randn(n, G.zdim)
    opt_g.zero_grad(set_to_none=True)
    F.softplus(-D(G(z, ops), ops)).mean().backward()
    opt_g.step()

    opt_d.zero_grad(set_to_none=True)
    with torch.no_grad():
        fakes = G(torch.randn(n, G.zdim), ops)
    loss = F.softplus(D(fakes, ops)).mean()
    real = reals.detach().requires_grad_(True)
    logits = D(real, ops)
    (grad,) = torch.autograd.grad(logits.sum(), real, create_graph=True)
    loss = loss + F.softplus(-logits).mean() + grad.square().sum([1, 2, 3]).mean() * (r1_gamma / 2)
    loss.backward()
    opt_d.step()


def setup(ops_kind: str, batch: int = 4, seed: int = 0):
    G, D = make(seed)
    ops = Ops(ops_kind)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-3, betas=(0.0, 0.99))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-3, betas=(0.0, 0.99))
    torch.manual_seed(seed + 1)
    reals = torch.randn(batch, 3, 64, 64).clamp(-1, 1)
    return lambda: train_step(G, D, reals, ops, opt_g, opt_d)
