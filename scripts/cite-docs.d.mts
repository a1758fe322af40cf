/** Types of scripts/cite-docs.mjs for the TypeScript tests that import it. */
export declare const SECTIONS: Record<string, string>;
export declare function rewrite(text: string): { text: string; problems: string[] };
export declare function leftovers(text: string): { line: number; text: string }[];
