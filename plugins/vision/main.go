// Command plexus-plugin-vision serves plexus's image classifiers (torchvision's ResNet
// 18–152, the small-image ResNet, Inception-v3) as a model plugin: classify gives the
// top labels, embed the pooled features. It is a thin main over vision/models.
package main

import "github.com/plexusml/plexus/plugins/sdk"

func main() { sdk.Serve(Vision{}) }
