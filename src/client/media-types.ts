/**
 * Media types shared by the server and the client. Kept free of imports so that the client (and
 * the GitHub Action bundled from it) does not pull in the server's schema libraries.
 */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
