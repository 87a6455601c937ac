package main

// A scanner for the few JSON frames the driver reads: it walks an object's top-level members and hands
// back each value's raw bytes, without building any value. Strings are returned without their quotes
// and without unescaping (the fields read here, numbers, room names, cids and the send stamp, hold no
// escapes).

// skipString returns the index just after the string that starts at b[i] == '"'.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// skipValue returns the index just after the value that starts at b[i] (after any spaces).
func skipValue(b []byte, i int) int {
	i = skipSpace(b, i)
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return len(b)
	default:
		for ; i < len(b); i++ {
			switch b[i] {
			case ',', '}', ']', ' ', '\n', '\r', '\t':
				return i
			}
		}
		return i
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// eachField calls f with every top-level key and raw value of the object in b (b[0] == '{' after spaces).
func eachField(b []byte, f func(key, val []byte)) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return
	}
	i++
	for {
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != '"' {
			return
		}
		ke := skipString(b, i)
		key := b[i+1 : ke-1]
		i = skipSpace(b, ke)
		if i >= len(b) || b[i] != ':' {
			return
		}
		vs := skipSpace(b, i+1)
		ve := skipValue(b, vs)
		f(key, b[vs:ve])
		i = skipSpace(b, ve)
		if i >= len(b) || b[i] != ',' {
			return
		}
		i++
	}
}

// eachElem calls f with every element of the array in b (b[0] == '[' after spaces).
func eachElem(b []byte, f func(val []byte)) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return
	}
	i++
	for {
		i = skipSpace(b, i)
		if i >= len(b) || b[i] == ']' {
			return
		}
		e := skipValue(b, i)
		f(b[i:e])
		i = skipSpace(b, e)
		if i >= len(b) || b[i] != ',' {
			return
		}
		i++
	}
}

// unquote strips a string value's quotes (no unescaping).
func unquote(v []byte) []byte {
	if len(v) >= 2 && v[0] == '"' {
		return v[1 : len(v)-1]
	}
	return v
}

// num reads a leading decimal number (sign, digits, an optional fraction); 0 when there is none.
func num(v []byte) float64 {
	v = unquote(v)
	neg := false
	i := 0
	if i < len(v) && v[i] == '-' {
		neg = true
		i++
	}
	var n float64
	for ; i < len(v) && v[i] >= '0' && v[i] <= '9'; i++ {
		n = n*10 + float64(v[i]-'0')
	}
	if i < len(v) && v[i] == '.' {
		scale := 0.1
		for i++; i < len(v) && v[i] >= '0' && v[i] <= '9'; i++ {
			n += float64(v[i]-'0') * scale
			scale /= 10
		}
	}
	if neg {
		return -n
	}
	return n
}

func integer(v []byte) int64 {
	v = unquote(v)
	var n int64
	neg := len(v) > 0 && v[0] == '-'
	i := 0
	if neg {
		i = 1
	}
	for ; i < len(v) && v[i] >= '0' && v[i] <= '9'; i++ {
		n = n*10 + int64(v[i]-'0')
	}
	if neg {
		return -n
	}
	return n
}

func eq(b []byte, s string) bool { return string(b) == s }
