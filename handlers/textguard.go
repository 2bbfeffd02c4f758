package handlers

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"stockline/domain"
)

// This file is the one place where text from outside is checked before
// anything stores or looks it up: PostgreSQL refuses NUL (0x00) in text and
// bytes that are not UTF-8, so such a value would otherwise surface as a
// 500 wherever it first reached SQL. guardText checks the path, the query,
// the request headers and every form field (and upload file name);
// decodeJSON calls checkJSONText on what it decoded. Webhooks are signed
// and never refused for their content: cleanPayload escapes what they
// carry so the delivery can be dead-lettered.

// textProblem says what is wrong with s, or "" when it is storable text.
func textProblem(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		return "contains a NUL byte"
	}
	if !utf8.ValidString(s) {
		return "is not valid UTF-8 text"
	}
	return ""
}

// badText is the one error for refused text: 400 invalid, naming the field.
func badText(field, problem string) *domain.Error {
	return &domain.Error{Code: domain.EINVALID, Field: field,
		Message: fmt.Sprintf("The value of %s %s; send plain UTF-8 text without NUL bytes.", field, problem)}
}

// cleanedHeaders are request headers that browsers may fill with bytes
// that are not UTF-8 and that are only ever recorded: they are cleaned,
// not refused.
var cleanedHeaders = []string{"User-Agent", "Referer"}

// guardText refuses a request whose path, query, headers or form fields
// carry NUL or invalid UTF-8, with 400 and the field it is in.
func (s *Server) guardText(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := checkRequestText(c); err != nil {
			return err
		}
		return next(c)
	}
}

func checkRequestText(c echo.Context) error {
	req := c.Request()
	if p := textProblem(req.URL.Path); p != "" {
		return badText("the address", p)
	}
	for i, v := range c.ParamValues() {
		if p := textProblem(v); p != "" {
			return badText(c.ParamNames()[i], p)
		}
	}
	if err := checkValues(req.URL.Query()); err != nil {
		return err
	}
	for _, h := range cleanedHeaders {
		if v := req.Header.Get(h); v != "" && textProblem(v) != "" {
			req.Header.Set(h, strings.ToValidUTF8(strings.ReplaceAll(v, "\x00", ""), ""))
		}
	}
	for name, vs := range req.Header {
		for _, v := range vs {
			if p := textProblem(v); p != "" {
				return badText("header "+name, p)
			}
		}
	}
	if !hasForm(req) || isAPI(c) {
		return nil
	}
	if err := parseForm(c); err != nil {
		return err
	}
	if err := checkValues(req.PostForm); err != nil {
		return err
	}
	if mf := req.MultipartForm; mf != nil {
		if err := checkValues(mf.Value); err != nil {
			return err
		}
		for field, fhs := range mf.File {
			for _, fh := range fhs {
				if p := textProblem(fh.Filename); p != "" {
					return badText(field+" file name", p)
				}
			}
		}
	}
	return nil
}

func checkValues(vals map[string][]string) error {
	for k, vs := range vals {
		if p := textProblem(k); p != "" {
			return badText("a field name", p)
		}
		for _, v := range vs {
			if p := textProblem(v); p != "" {
				return badText(k, p)
			}
		}
	}
	return nil
}

// hasForm reports whether the request carries a form body to check.
func hasForm(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	ct := strings.ToLower(r.Header.Get(echo.HeaderContentType))
	return strings.HasPrefix(ct, echo.MIMEApplicationForm) || strings.HasPrefix(ct, echo.MIMEMultipartForm)
}

// checkJSONText walks a decoded JSON request (structs, slices, maps,
// pointers) and refuses a string that carries NUL (a \u0000 escape);
// encoding/json has already replaced invalid UTF-8 with U+FFFD.
func checkJSONText(v any) error {
	return walkText(reflect.ValueOf(v), "")
}

func walkText(v reflect.Value, path string) error {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return walkText(v.Elem(), path)
		}
	case reflect.String:
		if p := textProblem(v.String()); p != "" {
			return badText(strings.TrimPrefix(path, "."), p)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range v.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name := f.Name
			if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag != "" && tag != "-" {
				name = tag
			}
			if err := walkText(v.Field(i), path+"."+name); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return nil // raw bytes (json.RawMessage) are not text
		}
		for i := range v.Len() {
			if err := walkText(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			k := fmt.Sprint(it.Key().Interface())
			if p := textProblem(k); p != "" {
				return badText("a key of "+strings.TrimPrefix(path, "."), p)
			}
			if err := walkText(it.Value(), path+"."+k); err != nil {
				return err
			}
		}
	}
	return nil
}

// cleanPayload returns body as storable text, and whether it had to change
// it: a NUL byte becomes the six characters \\u0000 (so a JSON string that
// held it still parses, to a visible escape), a JSON \u0000 escape gains a
// backslash the same way, and each byte that is not UTF-8 becomes \\xHH.
func cleanPayload(body []byte) ([]byte, bool) {
	if utf8.Valid(body) && !hasNUL(body) {
		return body, false
	}
	var b strings.Builder
	for i := 0; i < len(body); {
		r, n := utf8.DecodeRune(body[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\\x%02x`, body[i])
		case r == 0:
			b.WriteString(`\\u0000`)
		case r == '\\' && isNULEscape(body[i:]):
			b.WriteString(`\\`) // the escape gains a backslash; "u0000" follows as it is
		case r == '\\' && i+1 < len(body) && body[i+1] < utf8.RuneSelf && body[i+1] != 0:
			b.Write(body[i : i+2]) // any other escape (an escaped backslash among them) is kept whole
			n = 2
		case r == '\\':
			b.WriteString(`\\`) // a backslash before NUL, a bad byte or the end is escaped, so no new escape forms
		default:
			b.Write(body[i : i+n])
		}
		i += n
	}
	return []byte(b.String()), true
}

// hasNUL reports a raw NUL byte or a JSON \u0000 escape (one not itself
// escaped by a preceding backslash).
func hasNUL(body []byte) bool {
	for i := 0; i < len(body); i++ {
		switch {
		case body[i] == 0:
			return true
		case body[i] == '\\' && isNULEscape(body[i:]):
			return true
		case body[i] == '\\' && i+1 < len(body) && body[i+1] != 0:
			i++ // skip the escaped character, so "\\\\u0000" is not read as an escape
		}
	}
	return false
}

// isNULEscape reports whether b starts with the escape \u0000 and is not
// the second half of an escaped backslash. Callers walk left to right and
// skip "\\" pairs, so a backslash seen here starts an escape.
func isNULEscape(b []byte) bool {
	return len(b) >= 6 && b[0] == '\\' && (b[1] == 'u' || b[1] == 'U') && string(b[2:6]) == "0000"
}
