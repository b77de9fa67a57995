package efivars

import (
	"encoding/binary"
	"errors"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// encodeUTF16 returns s as NUL-terminated UTF-16LE, the CHAR16 strings of UEFI. It refuses
// what would not come back unchanged: invalid UTF-8 (it would turn into U+FFFD) and NUL (the
// firmware would cut the string there).
func encodeUTF16(s string) ([]byte, error) {
	if !utf8.ValidString(s) {
		return nil, errors.New("not valid UTF-8")
	}
	if strings.IndexByte(s, 0) >= 0 {
		return nil, errors.New("contains NUL")
	}
	units := utf16.Encode([]rune(s))
	b := make([]byte, 0, 2*len(units)+2)
	for _, u := range units {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return append(b, 0, 0), nil
}

// decodeUTF16 reads a NUL-terminated UTF-16LE string from the start of b and returns it and the
// number of bytes it took, terminator included. It refuses unpaired surrogates instead of
// replacing them, so that whatever decodes encodes back to the same bytes.
func decodeUTF16(b []byte) (string, int, error) {
	var units []uint16
	for i := 0; ; i += 2 {
		if i+2 > len(b) {
			return "", 0, errors.New("no NUL terminator")
		}
		u := binary.LittleEndian.Uint16(b[i:])
		if u == 0 {
			s, err := unitsToString(units)
			return s, i + 2, err
		}
		units = append(units, u)
	}
}

func unitsToString(units []uint16) (string, error) {
	var sb strings.Builder
	for i := 0; i < len(units); i++ {
		u := units[i]
		switch {
		case utf16.IsSurrogate(rune(u)):
			if i+1 >= len(units) {
				return "", errors.New("unpaired UTF-16 surrogate")
			}
			r := utf16.DecodeRune(rune(u), rune(units[i+1]))
			if r == utf8.RuneError {
				return "", errors.New("unpaired UTF-16 surrogate")
			}
			sb.WriteRune(r)
			i++
		default:
			sb.WriteRune(rune(u))
		}
	}
	return sb.String(), nil
}
