package configs

import "reflect"

// Hidden is what YAML writes in place of a secret that is set: the value of
// a field tagged secret:"true" (signing keys, webhook credentials).
const Hidden = "(hidden)"

// redacted returns a deep enough copy of c to change: every secret string
// that is set reads Hidden; c itself is untouched.
func (c *Config) redacted() *Config {
	cp := *c
	redact(reflect.ValueOf(&cp).Elem())
	return &cp
}

// redact hides the secrets under v (settable), copying the slices, maps and
// pointers on the way so that the original's are not written.
func redact(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := v.Field(i)
			if !f.CanSet() {
				continue
			}
			if t.Field(i).Tag.Get("secret") == "true" && f.Kind() == reflect.String {
				if f.String() != "" {
					f.SetString(Hidden)
				}
				continue
			}
			redact(f)
		}
	case reflect.Slice:
		if v.IsNil() || !holdsStruct(v.Type().Elem()) {
			return
		}
		n := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(n, v)
		v.Set(n)
		for i := 0; i < n.Len(); i++ {
			redact(n.Index(i))
		}
	case reflect.Pointer:
		if v.IsNil() || !holdsStruct(v.Type().Elem()) {
			return
		}
		p := reflect.New(v.Type().Elem())
		p.Elem().Set(v.Elem())
		v.Set(p)
		redact(p.Elem())
	case reflect.Map:
		if v.IsNil() || !holdsStruct(v.Type().Elem()) {
			return
		}
		n := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(it.Value())
			redact(e)
			n.SetMapIndex(it.Key(), e)
		}
		v.Set(n)
	}
}

// holdsStruct reports whether values of t may hold a struct (and so a
// secret field).
func holdsStruct(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	return t.Kind() == reflect.Struct
}
