// Package schema represents an event's event_result_type, the JSON Schema
// document that describes what the event's handlers return, and validates
// handler results against it.
//
// # Compatibility
//
// abxbus 2.4.2 and the current releases alike carry event_result_type in
// the event JSON as a JSON Schema document of draft 2020-12. This package
// reads the schemas the Python and TypeScript packages write (and the
// older draft-07 and draft-04 forms of a few keywords), writes them back
// as they would (see Normalisation), and validates so that a result the
// TypeScript package (release 2.5.56 in the tests) rejects is rejected
// here too, with the few differences noted under Validation.
//
// A [Schema] keeps the document it was given (after normalisation, below) as a
// decoded JSON tree, so every keyword this package does not understand is
// written back out unchanged, next to a validator compiled once when the
// Schema is built. Schemas come from three places:
//
//   - [For] and [ForType] derive a schema from a Go type (the schema of
//     the type's encoding/json form);
//   - [Parse] reads JSON, e.g. the event_result_type of an event from the wire;
//   - [FromValue] takes an already decoded value (map[string]any or bool).
//
// A Schema is immutable once built: it is safe for concurrent use by multiple
// goroutines and may be shared freely. A nil *Schema means "no result type":
// it accepts every value and marshals as JSON null.
//
// # Normalisation
//
// Parse, FromValue and For normalise the document the way the upstream
// Python writer does, so that a schema read here and written back out is
// JSON-equal to what any abxbus runtime writes. Normalisation is a
// no-op on an already normalised document, so a schema that arrives in
// normalised form (everything the TypeScript and Python writers emit) is
// written back exactly as it came in. The rules, applied to every
// subschema (every value in a schema position: properties, patternProperties,
// $defs, definitions, dependentSchemas, items, prefixItems,
// additionalProperties, additionalItems, anyOf, oneOf, allOf, not,
// propertyNames, contains, if, then, else, unevaluatedItems,
// unevaluatedProperties, contentSchema), are:
//
//   - a "required" array of strings is sorted;
//   - "type": [X, "null"] becomes "anyOf": [{"type": X}, {"type": "null"}],
//     and a type array with null and several other types becomes
//     "anyOf": [{"type": [...others]}, {"type": "null"}]; the other keywords
//     stay where they were. A subschema that already has "anyOf" keeps its
//     type array (rewriting it would lose one of the two);
//
// and, at the root:
//
//   - a root "$ref": "#/$defs/Name" is inlined: the definition becomes the
//     root, references to "#/$defs/Name" (and to paths below it) become "#"
//     (and "#/..."), the other $defs are kept, and "title" defaults to Name
//     unless Name starts with "__schema". Like upstream, the other keywords
//     of the old root are dropped. A definition that has its own "$defs" is
//     not inlined. Inlining repeats while the new root is again such a
//     reference, so the result is stable;
//   - "$schema" defaults to "https://json-schema.org/draft/2020-12/schema".
//
// Unlike upstream, values inside non-schema keywords (const, enum, default,
// examples, and unknown keywords) are never rewritten.
//
// # Validation
//
// [Schema.Validate] is strict: JSON types are never coerced, so 42
// does not match {"type":"string"}, "123" and 1.5 do not match
// {"type":"integer"}, while 1.0 does. The keywords enforced are type (a string
// or an array of strings; "integer" means an integral number, "number" any
// finite number), enum, const, anyOf, oneOf (exactly one), allOf, not, $ref
// (to "#", "#/$defs/..." or any JSON pointer into the document, with ~0/~1
// and percent escapes), properties, required, additionalProperties (boolean
// or schema), patternProperties, propertyNames, items (schema, false, or the
// draft-07 array form together with additionalItems), prefixItems (2020-12:
// items applies to the elements after them), minItems, maxItems,
// uniqueItems, minLength and maxLength (counted in characters, i.e. runes),
// pattern (an unanchored search), minimum, maximum, exclusiveMinimum and
// exclusiveMaximum (numbers, or draft-04 booleans), multipleOf (with a
// tolerance of 1e-9), minProperties, maxProperties, contains with
// minContains and maxContains, and the boolean schemas true and false.
//
// "format" is enforced for the formats the TypeScript abxbus enforces (it
// validates results with Zod's JSON Schema conversion), with Zod's rules, so
// that the two runtimes accept and reject the same strings: "date-time"
// (RFC 3339 with upper-case T and Z, seconds required, any number of
// fractional digits, Z or a ±HH:MM offset, a real calendar day, no leap
// second), "date", "time" (with an offset), "email", "uuid" (version 1 to 8
// with the RFC 9562 variant, or the nil or max UUID), "ipv4" and "ipv6"
// (without a zone). Other formats, among them "uri", "hostname" and
// "duration", which Zod also checks, are kept but not enforced.
//
// Every other keyword (title, default, if/then/else, dependentRequired,
// unevaluatedProperties, ...) is kept but not enforced; the TypeScript
// package cannot build a validator for a schema with if/then/else, not,
// dependentRequired, dependentSchemas, unevaluatedItems or
// unevaluatedProperties at all. Note also that TypeScript reads "integer"
// as a safe integer (within ±[MaxSafeInteger]) even without bounds, while
// this package, like Python, reads a bare "integer" as any integral number;
// the schemas [For] derives carry the bounds, so they agree with TypeScript.
// A schema with properties, required,
// additionalProperties or patternProperties but neither type nor anyOf,
// oneOf, allOf, $ref, const or enum still requires an object.
//
// Patterns are compiled with package regexp (RE2). "\uXXXX" and "\u{X...}"
// escapes of ECMAScript are translated. A pattern that RE2 cannot express
// because it uses a look-around or a back-reference (such as the e-mail
// pattern Zod emits) is kept in the document but not enforced, since
// rejecting it would make such events unreadable; any other pattern that
// does not compile is an [ErrInvalidSchema].
//
// Parse reports an [ErrInvalidSchema] for a keyword of the wrong JSON type or
// range (e.g. "minLength": -1, "type": "text"), an unknown or non-local $ref,
// and a cycle of references that never descends into the value (such as
// {"$ref":"#"}), which could only recurse forever.
//
// # Errors
//
// Validate returns nil or a [*MismatchError], which wraps [ErrMismatch]. Its
// message contains "did not match expected event_result_type", the schema
// identifier (the name of the type the schema expects, "object" below; see
// [Schema.Identifier]) and the JSON pointer (as a URI fragment, "#/tags/0")
// of the first failure found, for example:
//
//	ringbus: result did not match expected event_result_type object at #/quota: expected integer, got number 1.5
//
// # Cost
//
// Validate does not allocate when the value passes and is a primitive (other
// than float32) or a tree of map[string]any, []any and primitives, as
// produced by encoding/json; uniqueItems on an array longer than 32 elements
// builds a map. Any other composite Go value (struct, typed slice or map,
// pointer, or a type with its own MarshalJSON) is first converted to that
// form with encoding/json, which allocates. Measured on one core of the
// development machine (BenchmarkValidate): a decoded five-field object with
// a map member takes about 300 ns and no allocations, a string about 15 ns,
// and the same object given as a Go struct about 3.8 µs and 39 allocations,
// nearly all of it the JSON round trip. A failing value is evaluated twice,
// the second time to build the error (about 1 µs for that object).
//
// One Validate call evaluates at most 2^24 (schema, value) pairs: schemas
// whose combinators recurse through $ref can need time exponential in the
// depth of the value, and such a value is rejected once the budget is spent.
package schema

// Requirements of the team's spec that the package doc above describes,
// for maintainers (the tests cite the same IDs): event_result_type as a
// JSON Schema: wire.md §4 and RTYPE-1..RTYPE-7; schemas derived from Go
// types: RTYPE-7; unknown keywords kept: SCHEMA-4; normalisation:
// SCHEMA-3; no coercion when validating: RTYPE-5; the schema identifier
// in errors: SCHEMA-7.
