package vision_test

import (
	"fmt"
	"image"

	"github.com/plexusml/plexus/vision"
)

// The ImageNet evaluation transform of torchvision's ResNets: resize the shorter side
// to 256, centre-crop 224, normalise with ImageNet's statistics.
func ExampleTransform() {
	tf := vision.Transform{Resize: 256, Crop: 224,
		Mean: []float32{0.485, 0.456, 0.406}, Std: []float32{0.229, 0.224, 0.225}}
	img := image.NewNRGBA(image.Rect(0, 0, 640, 480))
	x, h, w := tf.Apply(img)
	fmt.Println(len(x), h, w, tf.Channels())
	fmt.Println(tf.Size(640, 480))
	// Output:
	// 150528 224 224 3
	// 224 224
}
