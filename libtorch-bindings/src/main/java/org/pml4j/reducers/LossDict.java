package org.pml4j.reducers;

import java.util.LinkedHashMap;

/** PML's loss dict: sub-loss name → {@link LossInfo}, in insertion order. */
public class LossDict extends LinkedHashMap<String, LossInfo> {
  private static final long serialVersionUID = 1L;

  public LossDict() {}

  /** A dict with one entry. */
  public static LossDict of(String name, LossInfo info) {
    LossDict d = new LossDict();
    d.put(name, info);
    return d;
  }
}
