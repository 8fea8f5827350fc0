package media_test

import (
	"bytes"
	"fmt"

	"github.com/plexusml/plexus/core/media"
)

func ExampleDecodeWAV() {
	var b bytes.Buffer
	// Two channels, planar: left then right.
	if err := media.EncodeWAV(&b, []float32{0.5, -0.5, 0.25, 0.25}, 16000, 2, 16); err != nil {
		panic(err)
	}
	a, err := media.DecodeWAV(bytes.NewReader(b.Bytes()), media.Limits{})
	if err != nil {
		panic(err)
	}
	fmt.Println(a.Rate, a.Channels, a.Frames(), a.Mono())
	// Output: 16000 2 2 [0.375 -0.125]
}

func ExampleSniff() {
	fmt.Println(media.Sniff([]byte("\x89PNG\r\n\x1a\n")), media.Sniff([]byte("héllo")), media.Sniff([]byte("RIFF\x00\x00\x00\x00WAVE")))
	// Output: image text audio
}
