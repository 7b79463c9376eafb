#!/usr/bin/python3
"""The whole-image OvDiff segmentation written plainly in PyTorch: the peer that `speed` times ovdiff against.

Per image, from the decoded RGB image to the label map (decoding excluded, as on the ovdiff side):
  resize to short side 448 (PIL Lanczos, as the reference), ImageNet normalisation, ResNet18 up to layer 4 (stride 32,
  512 channels), cosine similarity of every cell to P prototypes, per-label max over its prototypes, bilinear
  upsampling to the original size, argmax.
Random weights and prototypes (timing only). Run with Debian's python3-torch: /usr/bin/python3 torch_whole_image.py
--images LIST --prototypes 40 --labels 21 --threads 2 --rounds 3; prints one JSON line with per-image milliseconds.
"""
import argparse
import json
import statistics
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x if self.down is None else self.down(x)
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + identity)


class ResNet18Layer4(nn.Module):
    """torchvision's resnet18 without the pooling head: the output of layer4."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))
        layers, cin = [], 64
        for cout, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
            layers += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
            cin = cout
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(self.stem(x))


MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1) * 255
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1) * 255


def segment(model, prototypes, owner, labels, image):
    width, height = image.size
    scale = 448 / min(width, height)
    resized = image.resize((int(width * scale), int(height * scale)), Image.LANCZOS)
    x = torch.from_numpy(np.asarray(resized)).permute(2, 0, 1).unsqueeze(0).float()
    x = (x - MEAN) / STD
    features = model(x)[0]                                            # 512 x h x w
    cells = F.normalize(features.flatten(1).t(), dim=1)               # hw x 512
    similarity = cells @ prototypes.t()                               # hw x P
    scores = torch.full((similarity.shape[0], labels), -1.0)
    scores = scores.scatter_reduce(1, owner.expand_as(similarity), similarity, reduce="amax")
    scores = scores.t().reshape(1, labels, features.shape[1], features.shape[2])
    scores = F.interpolate(scores, size=(height, width), mode="bilinear", align_corners=False)
    return scores[0].argmax(0).to(torch.uint8)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", required=True, help="file with one image path per line")
    parser.add_argument("--prototypes", type=int, default=40)
    parser.add_argument("--labels", type=int, default=21)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = ResNet18Layer4().eval()
    prototypes = F.normalize(torch.rand(args.prototypes, 512), dim=1)
    owner = (torch.arange(args.prototypes) % args.labels).unsqueeze(0)
    paths = [line.strip() for line in open(args.images) if line.strip()]
    images = [Image.open(p).convert("RGB") for p in paths]
    for image in images:
        image.load()

    per_round = []
    with torch.inference_mode():
        for image in images[: args.warmup]:
            segment(model, prototypes, owner, args.labels, image)
        for _ in range(args.rounds):
            started = time.perf_counter()
            for image in images:
                segment(model, prototypes, owner, args.labels, image)
            per_round.append((time.perf_counter() - started) * 1000 / len(images))

    print(json.dumps({
        "images": len(images),
        "rounds": per_round,
        "ms_per_image": statistics.median(per_round),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
