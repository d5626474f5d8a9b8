package authz

import "unicode/utf8"

// match reports whether s matches the IAM pattern p: '*' matches any run
// of characters, the empty one too, and '?' exactly one character;
// everything else matches itself, without regard to ASCII case when fold is
// set (actions) and exactly otherwise (resources). Both wildcards cross
// ':' and '/', as in IAM, where a '*' that ends an ARN field reaches into
// the fields after it.
//
// It runs in O(len(p)·len(s)) at worst, backtracking only to the last
// '*', and does not allocate.
func match(p, s string, fold bool) bool {
	px, sx := 0, 0
	// Where to resume after a mismatch: the last '*' and the position in
	// s it would next try to swallow a character from.
	starPx, starSx := -1, 0
	for px < len(p) || sx < len(s) {
		if px < len(p) {
			switch c := p[px]; c {
			case '*':
				starPx, starSx = px, sx
				px++
				continue
			case '?':
				if sx < len(s) {
					_, w := utf8.DecodeRuneInString(s[sx:])
					px++
					sx += w
					continue
				}
			default:
				if sx < len(s) && (s[sx] == c || fold && lower(s[sx]) == lower(c)) {
					px++
					sx++
					continue
				}
			}
		}
		// Mismatch: let the last '*' swallow one more character.
		if starPx < 0 || starSx >= len(s) {
			return false
		}
		_, w := utf8.DecodeRuneInString(s[starSx:])
		starSx += w
		px, sx = starPx+1, starSx
	}
	return true
}

// lower returns c in lower case when it is an ASCII letter.
func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
