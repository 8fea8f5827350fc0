package media

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSniff(t *testing.T) {
	cases := []struct {
		head string
		want Modality
	}{
		{"", ModalityUnknown},
		{"\xff\xd8\xff\xe0", ModalityImage},
		{"\x89PNG\r\n\x1a\n....", ModalityImage},
		{"GIF89a", ModalityImage},
		{"II*\x00\x08\x00", ModalityImage},
		{"RIFF\x00\x00\x00\x00WEBPVP8 ", ModalityImage},
		{"BM\x46\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00\x00\x00", ModalityImage},
		{"BMW is a car maker\n", ModalityText},
		{"RIFF\x24\x00\x00\x00WAVEfmt ", ModalityAudio},
		{"RF64\xff\xff\xff\xffWAVE", ModalityAudio},
		{"\x93NUMPY\x01\x00", ModalityTensor},
		{"\x10\x00\x00\x00\x00\x00\x00\x00{\"w\":{}}", ModalityTensor},
		{"\x10\x00\x00\x00\x00\x00\x00\x00{not json", ModalityUnknown},
		{"hello\n", ModalityText},
		{"\xef\xbb\xbfwith a BOM", ModalityText},
		{"日本語のテキスト 🎉 emoji", ModalityText},
		{"cut mid-rune \xe6\x97", ModalityText}, // a head may end inside a rune
		{"bad \xff byte", ModalityUnknown},
		{"nul\x00byte", ModalityUnknown},
		{"\x1b[31mred\x1b[0m log line\n", ModalityText},
		{"PK\x03\x04zip", ModalityUnknown},
	}
	for _, c := range cases {
		if got := Sniff([]byte(c.head)); got != c.want {
			t.Errorf("Sniff(%q) = %q, want %q", c.head, got, c.want)
		}
	}
}

func TestSniffFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/*")
	if len(files) == 0 {
		t.Fatal("no fixtures (run /usr/bin/python3 tools/testdata-gen/media_fixtures.py)")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		want := ModalityImage
		switch {
		case strings.HasSuffix(f, ".npy"):
			want = ModalityTensor
		case strings.HasSuffix(f, ".wav"):
			want = ModalityAudio
		}
		if got := Sniff(b[:min(len(b), SniffLen)]); got != want {
			t.Errorf("%s: Sniff = %q, want %q", f, got, want)
		}
	}
}

func TestValidateText(t *testing.T) {
	if err := ValidateText([]byte("ok 日本 🎉")); err != nil {
		t.Error(err)
	}
	if err := ValidateText([]byte("abc\xffdef")); err == nil || !strings.Contains(err.Error(), "invalid UTF-8 at byte offset 3") {
		t.Errorf("got %v", err)
	}
	if err := ValidateText([]byte("\xff\xfeh\x00i\x00")); err == nil || !strings.Contains(err.Error(), "UTF-16") {
		t.Errorf("got %v", err)
	}
	if err := ValidateText([]byte("ab\x00")); err == nil || !strings.Contains(err.Error(), "NUL byte at offset 2") {
		t.Errorf("got %v", err)
	}
}
