/**
 * The assembler's error: misuse of the module or function builder (an undefined local, an
 * `end()` with no open block, an immediate out of range), or bytes the disassembler cannot
 * read. It is a {@link KilnError}, so it carries `op` (the instruction or builder method) and
 * `hint` like every other kiln error.
 */
import { KilnError } from "../../../jit/errors.js";

export class AsmError extends KilnError {}
