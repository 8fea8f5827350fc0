"""Fixtures for vision/: torchvision ResNet and Inception-v3 outputs, and torchvision's
evaluation transforms on a real photo.

    /usr/bin/python3 tools/golden/vision.py            # small CI fixtures (about 2 MB)
    /usr/bin/python3 tools/golden/vision.py --large    # full-size models (about 250 MB,
                                                       # vision/*/testdata/large/, not committed)

Models get seeded random weights, with random BatchNorm statistics too, so that the Go
side's BatchNorm folding is exercised. The CI variants are torchvision's own classes
with fewer channels (same module names, so the same state-dict names); the large
ones are torchvision.models.resnet18/resnet50/inception_v3 as they are. Each model
NAME writes NAME.safetensors, NAME.json (the config.json plexus reads), NAME.input.npy,
NAME.logits.npy and NAME.features.npy (the pooled embedding before fc).
"""

import argparse
import pathlib
import shutil
import sys

import torch
import torch.nn as nn
import torchvision
import torchvision.transforms as T
from PIL import Image
from torchvision.models import inception as tvi
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import common  # noqa: E402



class WideResNet(ResNet):
    """torchvision's ResNet with chosen stage widths and stem, same module names."""

    def __init__(self, block, layers, widths, num_classes, stem="imagenet", in_channels=3):
        nn.Module.__init__(self)
        self._norm_layer = nn.BatchNorm2d
        self.inplanes = widths[0]
        self.dilation = 1
        self.groups = 1
        self.base_width = 64
        if stem == "small":
            self.conv1 = nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False)
            self.maxpool = nn.Identity()
        else:
            self.conv1 = nn.Conv2d(in_channels, widths[0], 7, 2, 3, bias=False)
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._make_layer(block, widths[0], layers[0])
        for i in range(1, 4):
            if i < len(layers):
                setattr(self, f"layer{i + 1}", self._make_layer(block, widths[i], layers[i], stride=2))
            else:
                setattr(self, f"layer{i + 1}", nn.Identity())
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[-1] * block.expansion, num_classes)


def small_inception(num_classes, s, transform_input):
    """Inception-v3 with every channel count divided by s (same module names)."""

    def c(n):
        return max(1, n // s)

    conv = tvi.BasicConv2d
    m = tvi.Inception3(num_classes=num_classes, aux_logits=False, transform_input=transform_input, init_weights=False)
    m.Conv2d_1a_3x3 = conv(3, c(32), kernel_size=3, stride=2)
    m.Conv2d_2a_3x3 = conv(c(32), c(32), kernel_size=3)
    m.Conv2d_2b_3x3 = conv(c(32), c(64), kernel_size=3, padding=1)
    m.Conv2d_3b_1x1 = conv(c(64), c(80), kernel_size=1)
    m.Conv2d_4a_3x3 = conv(c(80), c(192), kernel_size=3)

    def block_a(cin, pool):
        b = tvi.InceptionA(8, 8)
        b.branch1x1 = conv(cin, c(64), kernel_size=1)
        b.branch5x5_1 = conv(cin, c(48), kernel_size=1)
        b.branch5x5_2 = conv(c(48), c(64), kernel_size=5, padding=2)
        b.branch3x3dbl_1 = conv(cin, c(64), kernel_size=1)
        b.branch3x3dbl_2 = conv(c(64), c(96), kernel_size=3, padding=1)
        b.branch3x3dbl_3 = conv(c(96), c(96), kernel_size=3, padding=1)
        b.branch_pool = conv(cin, pool, kernel_size=1)
        return b, c(64) + c(64) + c(96) + pool

    def block_b(cin):
        b = tvi.InceptionB(8)
        b.branch3x3 = conv(cin, c(384), kernel_size=3, stride=2)
        b.branch3x3dbl_1 = conv(cin, c(64), kernel_size=1)
        b.branch3x3dbl_2 = conv(c(64), c(96), kernel_size=3, padding=1)
        b.branch3x3dbl_3 = conv(c(96), c(96), kernel_size=3, stride=2)
        return b, c(384) + c(96) + cin

    def block_c(cin, c7):
        b = tvi.InceptionC(8, 8)
        b.branch1x1 = conv(cin, c(192), kernel_size=1)
        b.branch7x7_1 = conv(cin, c7, kernel_size=1)
        b.branch7x7_2 = conv(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        b.branch7x7_3 = conv(c7, c(192), kernel_size=(7, 1), padding=(3, 0))
        b.branch7x7dbl_1 = conv(cin, c7, kernel_size=1)
        b.branch7x7dbl_2 = conv(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        b.branch7x7dbl_3 = conv(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        b.branch7x7dbl_4 = conv(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        b.branch7x7dbl_5 = conv(c7, c(192), kernel_size=(1, 7), padding=(0, 3))
        b.branch_pool = conv(cin, c(192), kernel_size=1)
        return b, 4 * c(192)

    def block_d(cin):
        b = tvi.InceptionD(8)
        b.branch3x3_1 = conv(cin, c(192), kernel_size=1)
        b.branch3x3_2 = conv(c(192), c(320), kernel_size=3, stride=2)
        b.branch7x7x3_1 = conv(cin, c(192), kernel_size=1)
        b.branch7x7x3_2 = conv(c(192), c(192), kernel_size=(1, 7), padding=(0, 3))
        b.branch7x7x3_3 = conv(c(192), c(192), kernel_size=(7, 1), padding=(3, 0))
        b.branch7x7x3_4 = conv(c(192), c(192), kernel_size=3, stride=2)
        return b, c(320) + c(192) + cin

    def block_e(cin):
        b = tvi.InceptionE(8)
        b.branch1x1 = conv(cin, c(320), kernel_size=1)
        b.branch3x3_1 = conv(cin, c(384), kernel_size=1)
        b.branch3x3_2a = conv(c(384), c(384), kernel_size=(1, 3), padding=(0, 1))
        b.branch3x3_2b = conv(c(384), c(384), kernel_size=(3, 1), padding=(1, 0))
        b.branch3x3dbl_1 = conv(cin, c(448), kernel_size=1)
        b.branch3x3dbl_2 = conv(c(448), c(384), kernel_size=3, padding=1)
        b.branch3x3dbl_3a = conv(c(384), c(384), kernel_size=(1, 3), padding=(0, 1))
        b.branch3x3dbl_3b = conv(c(384), c(384), kernel_size=(3, 1), padding=(1, 0))
        b.branch_pool = conv(cin, c(192), kernel_size=1)
        return b, c(320) + 2 * c(384) + 2 * c(384) + c(192)

    ch = c(192)
    m.Mixed_5b, ch = block_a(ch, c(32))
    m.Mixed_5c, ch = block_a(ch, c(64))
    m.Mixed_5d, ch = block_a(ch, c(64))
    m.Mixed_6a, ch = block_b(ch)
    m.Mixed_6b, ch = block_c(ch, c(128))
    m.Mixed_6c, ch = block_c(ch, c(160))
    m.Mixed_6d, ch = block_c(ch, c(160))
    m.Mixed_6e, ch = block_c(ch, c(192))
    m.Mixed_7a, ch = block_d(ch)
    m.Mixed_7b, ch = block_e(ch)
    m.Mixed_7c, ch = block_e(ch)
    m.fc = nn.Linear(ch, num_classes)
    return m


def randomize(model):
    """Random weights everywhere, BatchNorm statistics included, as a trained model has."""
    g = torch.Generator().manual_seed(1234)
    for mod in model.modules():
        if isinstance(mod, nn.BatchNorm2d):
            c = mod.num_features
            mod.weight.data = torch.rand(c, generator=g) + 0.5
            mod.bias.data = torch.randn(c, generator=g) * 0.1
            mod.running_mean.data = torch.randn(c, generator=g) * 0.1
            mod.running_var.data = torch.rand(c, generator=g) + 0.5
            mod.num_batches_tracked.fill_(7)
        elif isinstance(mod, nn.Conv2d):
            fan_in = mod.weight[0].numel()
            mod.weight.data = torch.randn(mod.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5
        elif isinstance(mod, nn.Linear):
            mod.weight.data = torch.randn(mod.weight.shape, generator=g) / mod.in_features**0.5
            mod.bias.data = torch.randn(mod.bias.shape, generator=g) * 0.1
    model.eval()
    return model


def features(model, x):
    """The pooled embedding fc reads (torchvision's forward up to flatten)."""
    fc = model.fc
    model.fc = nn.Identity()
    try:
        return model(x)
    finally:
        model.fc = fc


def write_model(out, name, model, config, x):
    with torch.no_grad():
        logits = model(x)
        if isinstance(logits, tuple):
            logits = logits[0]
        feats = features(model, x)
    sd = dict(model.state_dict())
    common.save_safetensors(out / f"{name}.safetensors", sd)
    common.write_json(out / f"{name}.json", config)
    common.save_npy(out / f"{name}.input.npy", x)
    common.save_npy(out / f"{name}.logits.npy", logits)
    common.save_npy(out / f"{name}.features.npy", feats)
    print(f"{name}: {sum(v.numel() for v in sd.values())} values, logits {tuple(logits.shape)}")


def small(resnet_out, inception_out, vision_out):
    common.seed(0)
    m = randomize(WideResNet(BasicBlock, [2, 2, 2, 2], [4, 8, 16, 32], 7))
    write_model(resnet_out, "resnet18_small", m,
                {"architecture": "resnet18", "widths": [4, 8, 16, 32], "num_classes": 7},
                torch.randn(2, 3, 64, 64))
    # The same weights as a PyTorch checkpoint, as torch.save writes a state dict.
    torch.save(m.state_dict(), resnet_out / "resnet18_small.pth")
    m = randomize(WideResNet(Bottleneck, [3, 4, 6, 3], [4, 8, 16, 32], 5))
    write_model(resnet_out, "resnet50_small", m,
                {"architecture": "resnet50", "widths": [4, 8, 16, 32], "num_classes": 5},
                torch.randn(1, 3, 64, 48))
    m = randomize(WideResNet(BasicBlock, [1, 1, 1], [4, 8, 16], 10, stem="small", in_channels=1))
    write_model(resnet_out, "resnet_cifar_small", m,
                {"architecture": "resnet", "block": "basic", "layers": [1, 1, 1], "widths": [4, 8, 16],
                 "stem": "small", "in_channels": 1, "num_classes": 10, "input_size": 28},
                torch.randn(3, 1, 28, 28))
    m = randomize(small_inception(6, 16, transform_input=True))
    write_model(inception_out, "inception_v3_small", m,
                {"architecture": "inception_v3", "num_classes": 6, "transform_input": True},
                torch.randn(2, 3, 80, 80))

    # Preprocessing on a real photo (the Go gopher photo from golang.org/x/image's
    # testdata, BSD-licensed), and the whole pipeline photo → transforms → model.
    src = pathlib.Path.home() / "go/pkg/mod/golang.org/x/image@v0.48.0/testdata/go-turns-two-280x360.jpeg"
    photo = vision_out / "gopher.jpeg"
    if src.exists():
        shutil.copyfile(src, photo)
    img = Image.open(photo).convert("RGB")
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    tf = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(), T.Normalize(mean, std)])
    common.save_npy(vision_out / "gopher.resnet.npy", tf(img))
    tf = T.Compose([T.Resize(80), T.CenterCrop(75), T.ToTensor(), T.Normalize([0.5] * 3, [0.5] * 3)])
    common.save_npy(vision_out / "gopher.r80c75.npy", tf(img))
    tf = T.Compose([T.Grayscale(), T.Resize(28), T.CenterCrop(28), T.ToTensor(), T.Normalize([0.286], [0.353])])
    common.save_npy(vision_out / "gopher.gray28.npy", tf(img))
    tf = T.Compose([T.Resize(72), T.CenterCrop(64), T.ToTensor(), T.Normalize(mean, std)])
    x = tf(img).unsqueeze(0)
    m = randomize(WideResNet(BasicBlock, [2, 2, 2, 2], [4, 8, 16, 32], 7))
    with torch.no_grad():
        common.save_npy(vision_out / "gopher.resnet18_small.logits.npy", m(x))


def large(resnet_out, inception_out):
    common.seed(0)
    x = torch.randn(2, 3, 224, 224)
    write_model(resnet_out, "resnet18", randomize(torchvision.models.resnet18()),
                {"architecture": "resnet18", "num_classes": 1000}, x)
    write_model(resnet_out, "resnet50", randomize(torchvision.models.resnet50()),
                {"architecture": "resnet50", "num_classes": 1000}, x)
    m = torchvision.models.inception_v3(init_weights=False, aux_logits=True, transform_input=True)
    write_model(inception_out, "inception_v3", randomize(m),
                {"architecture": "inception_v3", "num_classes": 1000, "transform_input": True},
                torch.randn(2, 3, 299, 299))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--large", action="store_true", help="full-size models into testdata/large")
    args = ap.parse_args()
    resnet_out = common.testdata("vision/resnet")
    inception_out = common.testdata("vision/inception")
    if args.large:
        large(resnet_out / "large", inception_out / "large")
        return
    small(resnet_out, inception_out, common.testdata("vision"))


if __name__ == "__main__":
    main()
