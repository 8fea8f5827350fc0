package media

import (
	"bytes"
	"encoding/binary"
	"unicode/utf8"
)

// Modality is the kind of payload a file holds.
type Modality string

// The modalities Sniff reports; ModalityUnknown is the empty string.
const (
	ModalityUnknown Modality = ""
	ModalityImage   Modality = "image"
	ModalityAudio   Modality = "audio"
	ModalityText    Modality = "text"
	ModalityTensor  Modality = "tensor"
)

// SniffLen is how many leading bytes Sniff needs to decide; more are ignored except
// for text, where a longer head is checked more thoroughly.
const SniffLen = 512

// maxSafetensorsHeader bounds the JSON header length a safetensors file may declare
// for Sniff to believe it; real headers are kilobytes, and text never parses as a
// plausible length because eight printable bytes make a huge little-endian number.
const maxSafetensorsHeader = 100 << 20

// Sniff reports the modality of a payload from its first bytes (SniffLen is enough):
// the image formats DecodeImage reads, RIFF/WAVE audio, NumPy .npy and safetensors
// tensors, and UTF-8 text without control characters. It returns Unknown for anything
// else, including an empty head.
func Sniff(head []byte) Modality {
	if len(head) == 0 {
		return ModalityUnknown
	}
	if ImageFormat(head) != "" {
		return ModalityImage
	}
	if isWAV(head) {
		return ModalityAudio
	}
	if isTensor(head) {
		return ModalityTensor
	}
	if isText(head) {
		return ModalityText
	}
	return ModalityUnknown
}

// ImageFormat names the image format whose magic bytes begin head ("jpeg", "png",
// "gif", "bmp", "tiff", "webp"), or returns "".
func ImageFormat(head []byte) string {
	for i := range imageFormats {
		if imageFormats[i].match(head) {
			return imageFormats[i].name
		}
	}
	return ""
}

func isWAV(head []byte) bool {
	if len(head) < 12 || string(head[8:12]) != "WAVE" {
		return false
	}
	// RIFX (big-endian) and RF64 (64-bit sizes) are WAV too; DecodeWAV names them
	// as unsupported rather than leaving the file unrecognised.
	switch string(head[:4]) {
	case "RIFF", "RIFX", "RF64":
		return true
	}
	return false
}

func isTensor(head []byte) bool {
	if bytes.HasPrefix(head, []byte("\x93NUMPY")) {
		return true
	}
	// safetensors: u64 little-endian header length, then a JSON object.
	if len(head) < 10 {
		return false
	}
	n := binary.LittleEndian.Uint64(head)
	if n < 2 || n > maxSafetensorsHeader || head[8] != '{' {
		return false
	}
	return head[9] == '"' || head[9] == '}'
}

// isText accepts valid UTF-8 (an optional BOM, a rune cut off by the end of head
// allowed) whose control characters are only the ones text files carry.
func isText(head []byte) bool {
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	for i := 0; i < len(head); {
		c := head[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && !textControl(c) || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(head[i:])
		if r == utf8.RuneError && size <= 1 {
			// A rune truncated by the head's end is fine; a bad one is not.
			return !utf8.FullRune(head[i:]) && len(head)-i < utf8.UTFMax
		}
		i += size
	}
	return true
}

func textControl(c byte) bool {
	switch c {
	case '\t', '\n', '\r', '\f', '\v', 0x1b: // 0x1b: ANSI colour codes in logs
		return true
	}
	return false
}

// ValidateText returns nil when b is UTF-8 text, or an error naming the byte offset
// of the first invalid sequence or NUL byte.
func ValidateText(b []byte) error {
	if len(b) >= 2 && (b[0] == 0xff && b[1] == 0xfe || b[0] == 0xfe && b[1] == 0xff) {
		return formatErr("text", "text is UTF-16 (it starts with a UTF-16 byte-order mark); convert it to UTF-8, e.g. iconv -f UTF-16 -t UTF-8")
	}
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if c == 0 {
				return formatErr("text", "NUL byte at offset %d (binary data, not text)", i)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return formatErr("text", "invalid UTF-8 at byte offset %d (0x%02x)", i, c)
		}
		i += size
	}
	return nil
}
