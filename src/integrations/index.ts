/**
 * Integrations with the tools around a branch: post-create hooks and their environment, .env
 * files, GitHub pull requests (closed PRs' branches for gc). The GitHub Action
 * (github-action/main.ts) is a bundle entry of its own and is not exported here.
 */
export { diffCommentMarker, formatDiffComment, type DiffCommentOptions } from './diff-comment.js';
export { formatDotenv, mergeDotenv } from './dotenv.js';
export { hookEnvironment, hookFailedError, runHooks, type HookFailure, type HookRun, type HookStep, type RunHooksOptions } from './hooks.js';
export * from './github/index.js';
