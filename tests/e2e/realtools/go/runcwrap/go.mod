module localcluster/runcwrap

go 1.24.0
