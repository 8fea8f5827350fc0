// Package labels holds the class names of the datasets plexus's vision models are
// trained on. ImageNet's 1000 names are torchvision's (from the ResNet50 weights' meta).
package labels

import (
	_ "embed"
	"strings"
	"sync"
)

//go:embed imagenet.txt
var imagenetText string

var imagenet = sync.OnceValue(func() []string {
	return strings.Split(strings.TrimRight(imagenetText, "\n"), "\n")
})

// ImageNet returns the 1000 ImageNet-1k class names in class-index order. The slice is
// shared: do not modify it.
func ImageNet() []string { return imagenet() }

// FashionMNIST are Fashion-MNIST's ten classes in label order.
var FashionMNIST = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}

// Default returns the labels a model with n classes shows when its config names none:
// ImageNet's for 1000 classes, "class 0" … otherwise.
func Default(n int) []string {
	if n == 1000 {
		return ImageNet()
	}
	out := make([]string, n)
	for i := range out {
		out[i] = "class " + itoa(i)
	}
	return out
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
