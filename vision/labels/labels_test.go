package labels

import "testing"

func TestImageNet(t *testing.T) {
	l := ImageNet()
	if len(l) != 1000 || l[0] != "tench" || l[999] != "toilet tissue" {
		t.Fatalf("%d labels, first %q, last %q", len(l), l[0], l[len(l)-1])
	}
}

func TestDefault(t *testing.T) {
	if d := Default(12); len(d) != 12 || d[11] != "class 11" || d[0] != "class 0" {
		t.Fatalf("%q", d)
	}
	if len(Default(1000)) != 1000 {
		t.Fatal("1000 classes should get ImageNet's labels")
	}
}
