"""Table models (QAbstractTableModel subclasses) that hold ids and fetch rows as shown."""
