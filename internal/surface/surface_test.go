// Package surface_test checks the exported API of every package of the
// module, from the compiler's export data: what a user of the module can
// name and call.
package surface_test

import (
	"encoding/json"
	"fmt"
	"go/importer"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/ringbus/ringbus"

// load type-checks nothing itself: it asks go list for the export data of
// the module's packages and their dependencies, and imports each package
// of the module from it.
func load(t *testing.T) map[string]*types.Package {
	t.Helper()
	cmd := exec.Command("go", "list", "-export", "-deps", "-json=ImportPath,Export,Standard", "./...")
	cmd.Dir = "../.."
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -export: %v", err)
	}
	exports := map[string]string{}
	var mine []string
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p struct {
			ImportPath, Export string
			Standard           bool
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		exports[p.ImportPath] = p.Export
		if strings.HasPrefix(p.ImportPath, module) && !strings.Contains(p.ImportPath, "/internal/") &&
			!strings.HasPrefix(p.ImportPath, module+"/cmd/") && !strings.HasPrefix(p.ImportPath, module+"/examples/") {
			mine = append(mine, p.ImportPath)
		}
	}
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		f, ok := exports[path]
		if !ok || f == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(f)
	})
	pkgs := map[string]*types.Package{}
	for _, path := range mine {
		p, err := imp.Import(path)
		if err != nil {
			t.Fatalf("import %s: %v", path, err)
		}
		if p.Name() != "main" {
			pkgs[path] = p
		}
	}
	return pkgs
}

// Options and constructors of package api are functions, so that go doc
// shows their signatures and no caller can reassign them.
func TestAPIExportsNoFuncVariables(t *testing.T) {
	api := load(t)[module+"/api"]
	if api == nil {
		t.Fatal("package api not loaded")
	}
	scope := api.Scope()
	for _, name := range scope.Names() {
		v, ok := scope.Lookup(name).(*types.Var)
		if !ok || !v.Exported() {
			continue
		}
		if _, isFunc := v.Type().Underlying().(*types.Signature); isFunc {
			t.Errorf("api.%s is a variable of func type %s: declare it as a function with its own doc", name, v.Type())
		}
	}
}

// internalUses lists, for every exported name of every public package, the
// types from an internal/ package that its signature, fields or methods
// mention: a user outside the module can call it but cannot name them.
func internalUses(pkgs map[string]*types.Package) []string {
	var found []string
	seen := map[string]bool{}
	add := func(where string, t types.Type) {
		walkNamed(t, map[types.Type]bool{}, func(n *types.Named) {
			if p := n.Obj().Pkg(); p != nil && strings.Contains(p.Path(), "/internal/") {
				s := where + " uses " + p.Path()[len(module)+1:] + "." + n.Obj().Name()
				if !seen[s] {
					seen[s] = true
					found = append(found, s)
				}
			}
		})
	}
	for path, p := range pkgs {
		short := path[len(module)+1:]
		scope := p.Scope()
		for _, name := range scope.Names() {
			obj := scope.Lookup(name)
			if !obj.Exported() {
				continue
			}
			where := short + "." + name
			switch o := obj.(type) {
			case *types.TypeName:
				named, _ := o.Type().(*types.Named)
				if st, ok := o.Type().Underlying().(*types.Struct); ok {
					for i := range st.NumFields() {
						if f := st.Field(i); f.Exported() {
							add(where+"."+f.Name(), f.Type())
						}
					}
				} else if _, isIface := o.Type().Underlying().(*types.Interface); !isIface && !o.IsAlias() {
					add(where, o.Type().Underlying())
				}
				if named != nil {
					for i := range named.NumMethods() {
						if m := named.Method(i); m.Exported() {
							add(where+"."+m.Name(), m.Type())
						}
					}
				}
				if iface, ok := o.Type().Underlying().(*types.Interface); ok {
					for i := range iface.NumExplicitMethods() {
						if m := iface.ExplicitMethod(i); m.Exported() {
							add(where+"."+m.Name(), m.Type())
						}
					}
				}
			default:
				add(where, obj.Type())
			}
		}
	}
	sort.Strings(found)
	return found
}

// walkNamed calls f for every named type that t mentions, without entering
// named types (their own exported surface is checked where they are
// declared).
func walkNamed(t types.Type, seen map[types.Type]bool, f func(*types.Named)) {
	if t == nil || seen[t] {
		return
	}
	seen[t] = true
	switch x := t.(type) {
	case *types.Named:
		f(x)
		if args := x.TypeArgs(); args != nil {
			for i := range args.Len() {
				walkNamed(args.At(i), seen, f)
			}
		}
	case *types.Alias:
		walkNamed(types.Unalias(x), seen, f)
	case *types.Pointer:
		walkNamed(x.Elem(), seen, f)
	case *types.Slice:
		walkNamed(x.Elem(), seen, f)
	case *types.Array:
		walkNamed(x.Elem(), seen, f)
	case *types.Map:
		walkNamed(x.Key(), seen, f)
		walkNamed(x.Elem(), seen, f)
	case *types.Chan:
		walkNamed(x.Elem(), seen, f)
	case *types.Signature:
		for _, tup := range []*types.Tuple{x.Params(), x.Results()} {
			for i := range tup.Len() {
				walkNamed(tup.At(i).Type(), seen, f)
			}
		}
	case *types.Struct:
		for i := range x.NumFields() {
			if x.Field(i).Exported() {
				walkNamed(x.Field(i).Type(), seen, f)
			}
		}
	}
}

// TestNoInternalTypesInExportedSignatures fails when an exported name of a
// public package mentions a type from an internal/ package in its
// signature, fields or methods: a user outside the module could call it but
// could not name the type.
func TestNoInternalTypesInExportedSignatures(t *testing.T) {
	for _, s := range internalUses(load(t)) {
		t.Errorf("exported name uses an internal type: %s", s)
	}
}
