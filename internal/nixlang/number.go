package nixlang

import (
	"math"
	"strconv"
)

// fitsInt64 reports whether the decimal digits s fit in a signed 64-bit
// integer, the range of Nix integers; Nix rejects larger literals.
func fitsInt64(s string) bool {
	_, err := strconv.ParseInt(s, 10, 64)
	return err == nil
}

// validFloat mirrors Nix's use of strtod: a literal that overflows or
// underflows (including to a subnormal) sets ERANGE and is rejected.
func validFloat(s string) bool {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return false
	}
	if f != 0 && math.Abs(f) < 0x1p-1022 {
		return false
	}
	if f == 0 {
		for i := 0; i < len(s) && s[i] != 'e' && s[i] != 'E'; i++ {
			if s[i] >= '1' && s[i] <= '9' {
				return false
			}
		}
	}
	return true
}
