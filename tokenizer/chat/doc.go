// Package chat renders Hugging Face chat templates (tokenizer_config.json's chat_template, a Jinja2
// template) exactly as transformers' apply_chat_template(messages, tokenize=False) does, byte for byte, or
// refuses the template with an error that names what it cannot render exactly. It needs no package of
// ours; the template text comes from tokenizer.BPE.ChatTemplate or any other source.
//
//	tmpl, err := chat.Parse(tok.ChatTemplate())
//	text, err := tmpl.Render([]chat.Message{
//		{Role: "system", Content: "Be brief."},
//		{Role: "user", Content: "Hi"},
//	}, chat.Options{AddGenerationPrompt: true, BOS: "<s>", EOS: "</s>"})
//	var te *chat.TemplateError // raise_exception("…") in the template: te.Message is its text
//
// The rendered text holds the special tokens as text ("<|im_start|>"); encode it with the tokenizer's
// EncodeWithSpecial, which recognises them, as apply_chat_template(tokenize=True) does with
// add_special_tokens=False.
//
// # Hugging Face's settings
//
// Confirmed in transformers' src/transformers/utils/chat_template_utils.py (_compile_jinja_template) and
// tokenization_utils_base.py (apply_chat_template): the template is compiled in
// jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=
// [AssistantTracker, jinja2.ext.loopcontrols]) (AssistantTracker adds {% generation %}, which renders its
// body unchanged); the tojson filter is replaced by json.dumps(x, ensure_ascii=False, indent=indent,
// separators=separators, sort_keys=False), with those four keyword arguments; the globals are
// raise_exception(message), which raises jinja2.exceptions.TemplateError(message), and strftime_now(format),
// datetime.now().strftime(format); it renders with messages, tools, documents and add_generation_prompt
// plus {**tokenizer.special_tokens_map, **kwargs}: the special tokens the tokenizer has (bos_token,
// eos_token, unk_token, pad_token, …; an absent one is undefined) and the extra keyword arguments, which
// override them. Options carries each: BOS, EOS, UNK, PAD, Tools and Documents (JSON, None when nil), Vars
// (extra variables such as enable_thinking), and Now, strftime_now's clock. keep_trailing_newline is off,
// so a template's final newline is dropped.
//
// # How
//
// Rendering runs on github.com/ardanlabs/jinja (v1.8.0), a Go Jinja engine for chat templates, but not on
// its own reading of Jinja: run directly, it differs from Jinja2 on real inputs. Measured: a {%- strips the
// text before the expression in front of it ("A {{ 'x' }}{%- if … %}" gives "Ax", Jinja2 "A x"); a set in
// one loop iteration is still set in the next; '\u00e9' stays a backslash escape; none prints as "";
// tojson writes 1.0 as 1, escapes U+2028, and Go maps lose the key order of tool schemas; -7 // 2 is -3 and
// -7 % 3 is -1 (Python: -4 and 2); '10' < '9' is false; rstrip() keeps "\v"; messages[0]['role'] on no
// messages renders "" where Jinja2 raises UndefinedError; list.append works where the sandbox refuses it.
// And it cannot be told otherwise: its filters are looked up before anything a caller registers.
//
// So Parse reads the template itself and gives the engine a translation to run; the engine behind this
// package's API lives in two packages under tokenizer/chat/internal. Package jinja2 holds Jinja2's lexer
// (jinja2/lexer.py) for these settings: newlines normalised, the final one dropped, -/+ whitespace
// control, lstrip_blocks and trim_blocks exactly as Jinja2 applies them, raw blocks, comments, and string
// literals decoded as Python's unicode-escape; Jinja2's parser (precedence, tests with a bare argument,
// adjacent string literals, tuples, slices, loop filters); and the translation, which writes the template
// back for the engine with no text between tags (each piece of text is a string literal, so the engine's
// own whitespace handling has nothing to act on), and every operator, filter, test, attribute and item
// access, method call and {{ }} output turned into a call of a function of package pyvalue, registered in
// the render's scope, that does what Python and Jinja2 do: the sandbox's getattr and getitem (a missing
// key is undefined, an attribute of undefined raises UndefinedError, list and dict mutators raise
// SecurityError), Python's str() and repr() of None, floats, lists, dicts and tuples, its operators (floor
// division and modulo, chained comparisons, `in`), the str methods on Python's whitespace, Markup from the
// safe filter (what is added to it is HTML-escaped), json.dumps, strftime. The engine is left with if,
// for, set, macro, break and continue; each loop body runs in a fresh scope of its own so that a set does
// not outlive its iteration, as in Jinja2.
//
// # What it refuses
//
// Parse fails with an error wrapping ErrUnsupported for: filters other than abs, capitalize, count,
// default (d), dictsort, first, int, items, join, last, length, list, lower, map, reject,
// rejectattr, replace, reverse, safe, select, selectattr, sort, string, tojson, trim and upper; tests
// other than those of jinja2/tests.py a chat template uses (defined, none, string, mapping, iterable,
// sequence, number, integer, float, boolean, true, false, callable, odd, even, divisibleby, lower, upper,
// sameas, in and the comparisons); methods other than the str methods strip, lstrip, rstrip, split,
// rsplit, startswith, endswith, replace, upper, lower, capitalize, count, find, rfind and join, and dict's
// get, items, keys and values; the statements include, import, extends, block, filter, call, with, do
// and autoescape; recursive loops; loop.depth and loop.changed; calling anything but a macro or
// namespace, dict, range, raise_exception and strftime_now; a macro whose body uses varargs, kwargs or
// caller, whose default is not a plain literal, or a call with arguments it does not take; set with
// several targets; dict literals with keys other than string literals; hexadecimal, octal and binary
// numbers; the name null (a variable to Jinja2, None to the engine), names starting with "__" and
// attributes starting with "_". Rendering fails with an error wrapping ErrUnsupported where only the
// values show that Python would do something this package does not reproduce: changing the case of
// characters from U+0250 on (and ß, İ, ŉ, ǰ), whose Python mappings Go does not share; string formatting
// with %; strftime directives that depend on the locale (%c, %x, %X, …); map with a filter name and
// select or reject with a test it does not know; integers beyond 64 bits; printing a function. A template error is a *TemplateError (raise_exception's
// message); any other exception Jinja2 would raise (UndefinedError, TypeError, SecurityError, …) is an
// error naming that class. Residual difference, not refused: a namespace() is a dict, so ns.items is
// dict.items rather than an attribute items set with {% set ns.items = … %}.
//
// # Finding the assistant turns
//
// Render the whole conversation once (F). Turn i (an assistant message) starts where the render of
// messages[:i] with AddGenerationPrompt ends, and ends where the render of messages[:i+1] without it ends,
// when both are prefixes of F; the text between is what the model writes for that turn, end-of-turn tokens
// included. Check the prefix property rather than assume it: it holds for each assistant turn of
// Llama 3.2, Mistral, Zephyr and ChatML templates, but Qwen3 writes an empty <think></think> block only into
// the assistant turns after the last user message, so an earlier turn renders differently in F than in
// the prefix that ends with it (TestAssistantSpans). Templates with {% generation %} blocks are rendered
// with the blocks' bodies, as transformers does without return_assistant_tokens_mask.
//
// # Checked against
//
// testdata/golden.jsonl holds what Jinja2 3.1.2 (Debian's python3-jinja2) renders with transformers'
// settings, written by testdata/gen_golden.py: 829 records. 40 for each of six real templates (Qwen3,
// Qwen2-Audio's ChatML with its default system message, Mistral-7B-Instruct-v0.1, Ministral-3-14B-
// Instruct-2512, Zephyr-7B-beta, and Meta's Llama 3.2 1B Instruct, which is not committed but read from the
// module github.com/ardanlabs/jinja, sha256-checked): 20 conversations (system and user, several turns,
// add_generation_prompt both ways, Unicode and emoji, text that looks like Jinja, whitespace and control
// characters at the ends, CRLF, empty content, <think> in content and reasoning_content, tools with tool
// calls and tool results, enable_thinking, date_string, roles that do not alternate, no messages); 560
// for fourteen larger templates of that module (DeepSeek-V4, GLM-5.2, Kimi-K3, LFM2.5, Mistral Medium 3.5,
// Nemotron 3, Qwen3-VL, Qwen3.5, Qwen3.6, Gemma 4, gpt-oss, …), of which Parse refuses two (DeepSeek-V4
// for its from_json filter, Kimi-K3 for a macro default); and 29 small templates of our own, one per part
// of Jinja2. TestGolden compares all 749 that are not refused: every output byte for byte, every
// raise_exception message, every other exception by its class: 0 mismatches. Outside the tests,
// gen_golden.py --random writes random conversations (pieces of Unicode, whitespace, Jinja-looking text,
// think tags and special tokens, random roles, tools, tool calls) for the six real templates; TestReferenceFile
// compared 42,000 of them (two seeds): 0 mismatches. FuzzParseRender (Parse and Render of arbitrary text
// never panic, and what Parse gives the engine always compiles) ran 190 s without a failure.
//
// Parsing Qwen3's template takes about 1.8 ms; rendering a six-message conversation with it 0.2 ms
// (go test -bench . -cpu 1 on the project's shared 2-core machine). A Template is safe for concurrent use.
package chat
