package org.pml4j.accuracy;

import org.bytedeco.pytorch.Tensor;

/**
 * The output of a {@link KnnFunction}: {@code [Q, k]} distances (or similarities) and int64 reference indices,
 * closest first.
 *
 * @param distances distance or similarity of each neighbour
 * @param indices row of each neighbour in the reference
 */
public record KnnResult(Tensor distances, Tensor indices) {}
