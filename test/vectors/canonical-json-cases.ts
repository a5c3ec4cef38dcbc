// RFC 8785 (JCS) cases with their expected output written out by hand, from the RFC and from ECMAScript's
// number and string rules — never computed by our canonicalize(), so the vectors can catch it being wrong.
// Non-ASCII characters are spelled as \u escapes in this source so that no editor can normalise them.

export interface CanonicalCase {
  name: string;
  /** JSON text, to be parsed and then canonicalized. */
  input: string;
  expected: string;
}

export const CANONICAL_CASES: CanonicalCase[] = [
  {
    name: "RFC 8785 section 3.2.2 example (numbers, string escapes, literals)",
    input: String.raw`{
  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}`,
    expected: '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
  },
  {
    name: "RFC 8785 section 3.2.3 key sorting by UTF-16 code units (emoji sorts before U+FB33)",
    input: String.raw`{
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One",
  "\ud83d\ude00": "Emoji: Grinning Face",
  "\u0080": "Control",
  "\u00f6": "Latin Small Letter O With Diaeresis"
}`,
    expected:
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
      '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}',
  },
  {
    name: "UTF-16 order differs from code point order: U+1F600 (D83D DE00) sorts before U+E000 and U+FFFF",
    input: String.raw`{"\ud83d\ude00":1,"\uffff":2,"\ue000":3,"a":4,"A":5,"\u00e4":6,"":7}`,
    expected: '{"":7,"A":5,"a":4,"\u00e4":6,"\ud83d\ude00":1,"\ue000":3,"\uffff":2}',
  },
  {
    name: "number spellings: exponent thresholds, -0, trailing zeros, integers beyond 2^53",
    input: "[1e21, 1e20, 1e-7, 1e-6, 0.000001, -0, 0.0, -0.0, 1.0, 100, 1E2, 123456789012345678901234567890, 9007199254740993, 5e-324, 1.7976931348623157e308, -1.5e-10]",
    expected: "[1e+21,100000000000000000000,1e-7,0.000001,0.000001,0,0,0,1,100,100,1.2345678901234568e+29,9007199254740992,5e-324,1.7976931348623157e+308,-1.5e-10]",
  },
  {
    name: "string escapes: only \\b \\t \\n \\f \\r \\\" \\\\ and \\u00XX for other controls; DEL, U+2028, U+2029, BOM raw",
    input: String.raw`"\u0000\u0001\u0008\u0009\u000a\u000b\u000c\u000d\u001f\u0020\u0022\u002f\u005c\u007f\u0080\u2028\u2029\ufeff"`,
    expected: '"\\u0000\\u0001\\b\\t\\n\\u000b\\f\\r\\u001f \\"/\\\\\u007f\u0080\u2028\u2029\ufeff"',
  },
  {
    name: "escaped non-ASCII in the input is written as raw UTF-8; a surrogate pair becomes one character",
    input: String.raw`{"tool":"donn\u00e9es.lire","outil":"\u5de5\u5177.\u641c\u7d22","emoji":"\uD83D\uDCB6"}`,
    expected: '{"emoji":"\ud83d\udcb6","outil":"\u5de5\u5177.\u641c\u7d22","tool":"donn\u00e9es.lire"}',
  },
  {
    name: "non-ASCII tool names and an IBAN beneficiary, given raw",
    input: '{"tool":"\u5de5\u5177.\u641c\u7d22","args":{"iban":"FR7630006000011234567890189","name":"Zo\u00eb \u00c5ngstr\u00f6m-\u0141ukasiewicz"},"server":"donn\u00e9es"}',
    expected: '{"args":{"iban":"FR7630006000011234567890189","name":"Zo\u00eb \u00c5ngstr\u00f6m-\u0141ukasiewicz"},"server":"donn\u00e9es","tool":"\u5de5\u5177.\u641c\u7d22"}',
  },
  {
    name: "nested objects and arrays: keys sorted at every depth, array order kept, whitespace dropped",
    input: ' { "b" : [ { "z" : 1 , "a" : [ true , { "y" : null , "x" : "2" } ] } ] , "a" : { } , "c" : [ ] } ',
    expected: '{"a":{},"b":[{"a":[true,{"x":"2","y":null}],"z":1}],"c":[]}',
  },
  { name: "top-level scalars", input: '[null, false, "", 0]', expected: '[null,false,"",0]' },
];

/** RFC 8785 Appendix B: IEEE 754 doubles (big-endian hex) and their JCS spelling. */
export const NUMBER_CASES: { ieee754_hex: string; expected: string }[] = [
  { ieee754_hex: "0000000000000000", expected: "0" },
  { ieee754_hex: "8000000000000000", expected: "0" },
  { ieee754_hex: "0000000000000001", expected: "5e-324" },
  { ieee754_hex: "8000000000000001", expected: "-5e-324" },
  { ieee754_hex: "7fefffffffffffff", expected: "1.7976931348623157e+308" },
  { ieee754_hex: "ffefffffffffffff", expected: "-1.7976931348623157e+308" },
  { ieee754_hex: "4340000000000000", expected: "9007199254740992" },
  { ieee754_hex: "c340000000000000", expected: "-9007199254740992" },
  { ieee754_hex: "4430000000000000", expected: "295147905179352830000" },
  { ieee754_hex: "44b52d02c7e14af5", expected: "9.999999999999997e+22" },
  { ieee754_hex: "44b52d02c7e14af6", expected: "1e+23" },
  { ieee754_hex: "44b52d02c7e14af7", expected: "1.0000000000000001e+23" },
  { ieee754_hex: "444b1ae4d6e2ef4e", expected: "999999999999999700000" },
  { ieee754_hex: "444b1ae4d6e2ef4f", expected: "999999999999999900000" },
  { ieee754_hex: "444b1ae4d6e2ef50", expected: "1e+21" },
  { ieee754_hex: "3eb0c6f7a0b5ed8c", expected: "9.999999999999997e-7" },
  { ieee754_hex: "3eb0c6f7a0b5ed8d", expected: "0.000001" },
  { ieee754_hex: "41b3de4355555553", expected: "333333333.3333332" },
  { ieee754_hex: "41b3de4355555554", expected: "333333333.33333325" },
  { ieee754_hex: "41b3de4355555555", expected: "333333333.3333333" },
  { ieee754_hex: "41b3de4355555556", expected: "333333333.3333334" },
  { ieee754_hex: "41b3de4355555557", expected: "333333333.33333343" },
  { ieee754_hex: "becbf647612f3696", expected: "-0.0000033333333333333333" },
  { ieee754_hex: "43143ff3c1cb0959", expected: "1424953923781206.2" },
];

/** Doubles JCS cannot carry (RFC 8785 Appendix B, note 3). */
export const NUMBER_REFUSALS: { ieee754_hex: string; why: string }[] = [
  { ieee754_hex: "7fffffffffffffff", why: "NaN" },
  { ieee754_hex: "7ff0000000000000", why: "Infinity" },
  { ieee754_hex: "fff0000000000000", why: "-Infinity" },
];

/** JSON texts that parse in JavaScript but must not be canonicalized. */
export const REFUSED_CASES: { name: string; input: string }[] = [
  { name: "lone high surrogate in a string", input: String.raw`"\ud800"` },
  { name: "lone low surrogate in a string", input: String.raw`"tool\udc00"` },
  { name: "surrogates in the wrong order", input: String.raw`"\ude00\ud83d"` },
  { name: "lone surrogate in an object key", input: String.raw`{"\udead":1}` },
  { name: "number that overflows to Infinity", input: "1e400" },
  { name: "number that overflows to -Infinity inside an array", input: "[1, -1e400]" },
];
