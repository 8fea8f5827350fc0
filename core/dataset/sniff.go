package dataset

import (
	"path/filepath"
	"strings"

	"github.com/plexusml/plexus/core/media"
)

// extModality maps a file extension to the modality it promises. Content decides a
// file's modality; the extension only names what a file that matches no content was
// meant to be, so that a corrupt photo.jpg fails as a broken image, not as "unknown".
func extModality(name string) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".bmp", ".dib", ".tif", ".tiff", ".webp":
		return Image
	case ".wav", ".wave":
		return Audio
	case ".txt", ".text", ".md", ".json", ".jsonl", ".csv", ".tsv", ".xml", ".html", ".htm", ".srt", ".vtt":
		return Text
	case ".npy", ".safetensors":
		return Tensor
	}
	return ""
}

// classify returns a file's modality from its head (and, failing that, its name),
// or an explanation of why it has none.
func classify(name string, head []byte) (string, string) {
	if m := media.Sniff(head); m != media.ModalityUnknown {
		return string(m), ""
	}
	if m := extModality(name); m != "" {
		return m, ""
	}
	why := "unrecognised content: not an image, a WAV file, a tensor or UTF-8 text"
	if err := media.ValidateText(head); err != nil {
		why += " (" + strings.TrimPrefix(err.Error(), "text: ") + ")"
	}
	return "", why
}
