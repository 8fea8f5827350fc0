package datasettest

import (
	"fmt"
	"os"
	"strings"
)

func strp(s string) *string { return &s }

// writeJSONL writes a JSON Lines manifest over g's files with good and bad rows.
func writeJSONL(path string, g *gen) ([]Expect, error) {
	lines := []string{
		`{"id": "r1", "text": "inline text, 日本語 🎉"}`,
		`{"id": "r2", "image": "files/images/quad.png", "caption": "four quadrants", "score": 0.5, "count": 9007199254740993}`,
		`{"id": "r3", "text": "describe this", "image": "files/images/exif-rotated.jpg"}`,
		`{"id": 4, "audio": "files/audio/pcm16-stereo-16k.wav"}`,
		`{"id": "r5", "text": `,
		`{"id": "r6", "image": "files/images/missing.png"}`,
		``,
		`{"text": "no id: the line number is the id"}`,
		`{"id": "r1", "text": "a duplicate id"}`,
		`{"id": "r10", "image": "files/bad/truncated.jpg"}`,
		`["not", "an", "object"]`,
		`{"id": "r12", "label": "no payload"}`,
		"{\"id\": \"r13\", \"text\": \"bad \xff byte\"}",
	}
	name := func(line int) string { return fmt.Sprintf("%s:%d", path, line) }
	rows := []Expect{
		{ID: "r1", Modality: "text", Text: strp("inline text, 日本語 🎉")},
		{ID: "r2", Modality: "image", Image: g.byID["images/quad.png"].Image, Fields: map[string]any{"caption": "four quadrants", "score": 0.5, "count": int64(9007199254740993)}},
		{ID: "r3", Modality: "mixed", Text: strp("describe this"), Image: g.byID["images/exif-rotated.jpg"].Image},
		{ID: "4", Modality: "audio", Audio: g.byID["audio/pcm16-stereo-16k.wav"].Audio},
		{ID: "5", Err: "invalid JSON", AtList: true, Name: name(5)},
		{ID: "r6", Modality: "image", Err: "image files/images/missing.png: file", AtList: true, Name: name(6)},
		{ID: "8", Modality: "text", Text: strp("no id: the line number is the id")},
		{ID: "r1", Err: `duplicate id "r1" (first used on line 1)`, AtList: true, Name: name(9)},
		{ID: "r10", Modality: "image", Err: "image files/bad/truncated.jpg: jpeg: file is truncated", Name: name(10)},
		{ID: "11", Err: "row is a JSON array, not an object", AtList: true, Name: name(11)},
		{ID: "r12", Err: "row has none of text, image, audio, tensor", AtList: true, Name: name(12)},
		{ID: "13", Err: "invalid UTF-8 at byte 27 of the row", AtList: true, Name: name(13)},
	}
	return rows, os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

// writeCSV writes a CSV manifest (with a quoted multi-line cell) over g's files.
func writeCSV(path string, g *gen) ([]Expect, error) {
	body := "id,text,image,audio,label\n" +
		"c1,\"a cell with a comma, and\na newline\",,,greeting\n" +
		"c2,,files/images/cmyk.jpg,,cmyk\n" +
		"c3,,,files/audio/float32-stereo-48k.wav,tone\n" +
		"c4,,files/nowhere.png,,missing\n" +
		"c5,too,few\n" +
		",text without an id,,,\n" +
		"c7,\"bad \"quote\",,,x\n" +
		"c8,spoken,,files/audio/pcm24-mono-44k.wav,both\n"
	name := func(line int) string { return fmt.Sprintf("%s:%d", path, line) }
	rows := []Expect{
		{ID: "c1", Modality: "text", Text: strp("a cell with a comma, and\na newline"), Fields: map[string]any{"label": "greeting"}},
		{ID: "c2", Modality: "image", Image: g.byID["images/cmyk.jpg"].Image, Fields: map[string]any{"label": "cmyk"}},
		{ID: "c3", Modality: "audio", Audio: g.byID["audio/float32-stereo-48k.wav"].Audio, Fields: map[string]any{"label": "tone"}},
		{ID: "c4", Modality: "image", Err: "image files/nowhere.png: file", AtList: true, Name: name(6)},
		{ID: "7", Err: "row has 3 fields but the header (line 1) has 5", AtList: true, Name: name(7)},
		{ID: "8", Modality: "text", Text: strp("text without an id")},
		{ID: "9", Err: "invalid CSV", AtList: true, Name: name(9)},
		{ID: "c8", Modality: "mixed", Text: strp("spoken"), Audio: g.byID["audio/pcm24-mono-44k.wav"].Audio, Fields: map[string]any{"label": "both"}},
	}
	return rows, os.WriteFile(path, []byte(body), 0o644)
}
