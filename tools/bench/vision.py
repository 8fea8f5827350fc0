# PyTorch side of `plexus bench vision`: torchvision classifiers, images/s in eval mode.
# Keys must match cmd/plexus/bench_vision.go.
import torchvision

out = {}
torch.manual_seed(0)
nets = [("resnet18", torchvision.models.resnet18, 224),
        ("resnet50", torchvision.models.resnet50, 224),
        ("inception_v3", lambda: torchvision.models.inception_v3(init_weights=False, aux_logits=False), 299)]
for name, make, size in nets:
    m = make().eval()
    for b in ([1] if QUICK else [1, 8]):
        x = torch.randn(b, 3, size, size)
        with torch.no_grad():
            out[f"{name} b{b}"] = b / median(lambda: m(x))
print(json.dumps(out))
