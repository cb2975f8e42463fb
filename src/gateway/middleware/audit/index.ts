/** The audit trail: the writer (and AuditSink), the call stage, verification, redaction, config. */
export { openAudit, AuditLog, type AuditLogOptions, type AuditStats } from './writer.js';
export { audit, type AuditStageOptions } from './stage.js';
export { verifyAudit, describeReport, type VerifyReport, type VerifyProblem } from './verify.js';
export { redactArguments, isSensitiveKey } from './redact.js';
export { parseAudit, type AuditOptions } from './config.js';
export { loadAuditKey, readAuditKey } from './key.js';
