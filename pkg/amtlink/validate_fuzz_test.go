package amtlink

import "testing"

// FuzzNameRule: the ASCII fast path of the name rule passes only names the
// full rune check (runeReason) passes too.
func FuzzNameRule(f *testing.F) {
	for _, s := range []string{"amt0", "a b", "a\tb", "a/b", "a:b", "a%d", "é", "a\x7f", "a\u00a0b", "a\u0085b", "a\x1f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if asciiNameOK(s) && runeReason(s) != "" {
			t.Fatalf("asciiNameOK(%q) passes a name the rule refuses: %s", s, runeReason(s))
		}
		if !asciiNameOK(s) && runeReason(s) == "" {
			for i := 0; i < len(s); i++ {
				if s[i] < 0x80 {
					continue
				}
				return // non-ASCII: the rune loop decides, as it should
			}
			t.Fatalf("asciiNameOK(%q) refuses an ASCII name the rule passes", s)
		}
	})
}
