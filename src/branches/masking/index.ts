/**
 * Masking rules as code: the YAML rules file (docs/masking.md) parsed into `MaskingRules` and
 * validated against a catalog snapshot, with every problem located (file:line:column) and coded.
 * Pure functions: the caller reads the file and the catalog (postgres' readMaskCatalog).
 */
export { parseMaskingRules, checkMaskingRules, parseJsonPath } from './parse-rules.js';
export { checkRulesAgainstCatalog, validateMaskingRules } from './validate-rules.js';
export { rulesInvalidError, uncoveredColumnsError, formatProblem, RULES_PROBLEM_CODES, type RulesProblem, type RulesProblemCode } from './problems.js';
