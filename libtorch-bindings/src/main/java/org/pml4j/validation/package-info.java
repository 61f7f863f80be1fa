/**
 * Input validation shared by losses, miners and wrappers ({@link org.pml4j.validation.Checks}, the validated
 * {@link org.pml4j.validation.Inputs} of a loss call): clear {@link java.lang.IllegalArgumentException}s instead of
 * native crashes. Depends only on {@code org.pml4j.torch} and {@code org.pml4j.tuples}, so losses and miners can both
 * use it without depending on each other.
 */
package org.pml4j.validation;
